package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned schema change of a component.
type Migration struct {
	// Version numbers a component's migrations 1, 2, 3, ... without gaps.
	Version int
	// Name says what the migration does, e.g. "create_payments".
	Name string
	// SQL runs on both engines (and on SQLite only when Postgres is set).
	// It may hold several statements separated by semicolons.
	SQL string
	// Postgres, when non-empty, replaces SQL on PostgreSQL, for the few
	// statements that cannot be portable (BLOB vs BYTEA, identity columns).
	Postgres string
	// Source names where the migration came from (a file name), for error
	// messages; LoadMigrations sets it, and it may be left empty.
	Source string
}

// sqlFor returns the statements to run on engine e.
func (m Migration) sqlFor(e Engine) string {
	if e == Postgres && strings.TrimSpace(m.Postgres) != "" {
		return m.Postgres
	}
	return m.SQL
}

// source names the migration in messages.
func (m Migration) source() string {
	if m.Source != "" {
		return m.Source
	}
	return fmt.Sprintf("%04d_%s", m.Version, m.Name)
}

// MigrationSet is the ordered migrations of one component (a service, or a
// library such as the outbox that owns tables in a service's database).
type MigrationSet struct {
	// Component keys the set's rows in schema_migrations, e.g. "payment".
	Component  string
	Migrations []Migration
}

// MigrationState is one line of a `migrate status` report.
type MigrationState struct {
	Component string
	Version   int
	Name      string
	// Applied reports whether the database has this version.
	Applied bool
	// AppliedAt is when it was applied (UTC); zero when not applied.
	AppliedAt time.Time
	// Unknown marks a version the database has but the given sets do not
	// (the database was migrated by a newer build); Name is then the name
	// recorded in the database.
	Unknown bool
}

var (
	// ErrBadMigrations is wrapped by errors about malformed migration
	// files or sets: bad names, gaps, duplicates, empty SQL.
	ErrBadMigrations = errors.New("store: invalid migrations")
	// ErrSchemaTooNew is wrapped by Migrate's error when the database has a
	// version of a component that this build does not know, which means a
	// newer build migrated it; running older code on it is refused.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this build")
)

// MigrationError reports a migration that failed; its transaction was
// rolled back, so the database is as it was before the migration.
type MigrationError struct {
	Component string
	Version   int
	Name      string
	// Source is the migration's file name (or version_name).
	Source string
	Err    error
}

// Error names the component and file that failed, then the cause.
func (e *MigrationError) Error() string {
	return fmt.Sprintf("store: migration %s/%s (version %d) failed: %v", e.Component, e.Source, e.Version, e.Err)
}

// Unwrap returns the driver's error.
func (e *MigrationError) Unwrap() error { return e.Err }

// migrationFile matches NNNN_name.sql and NNNN_name.postgres.sql.
var migrationFile = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9][a-z0-9_]*)(\.postgres)?\.sql$`)

// migrationLockKey is the pg_advisory_xact_lock key that serialises
// migrations of every component on one PostgreSQL database ("tamkeen"
// in ASCII), so that replicas starting together apply each migration once.
const migrationLockKey int64 = 0x74616d6b65656e

// LoadMigrations reads component's migrations from the directory dir of
// fsys (an embed.FS holding dir/*.sql; "." for the top): files
// NNNN_name.sql (at least four digits, name in lower case letters, digits
// and underscores), each optionally paired with NNNN_name.postgres.sql
// that replaces it on PostgreSQL. Other files and directories are
// ignored. Versions must run 1, 2, 3, ... without gaps or duplicates.
func LoadMigrations(component string, fsys fs.FS, dir string) (MigrationSet, error) {
	if component == "" {
		return MigrationSet{}, fmt.Errorf("%w: empty component name", ErrBadMigrations)
	}
	fsys, err := fs.Sub(fsys, dir)
	if err != nil {
		return MigrationSet{}, fmt.Errorf("store: migrations of %s: %w", component, err)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return MigrationSet{}, fmt.Errorf("store: read migrations of %s: %w", component, err)
	}
	type pair struct {
		name, file, pgFile string
		sql, pg            string
	}
	byVersion := map[int]*pair{}
	var problems []string
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || path.Ext(file) != ".sql" {
			continue
		}
		mm := migrationFile.FindStringSubmatch(file)
		if mm == nil {
			problems = append(problems, fmt.Sprintf("%s: bad name (want NNNN_name.sql or NNNN_name.postgres.sql, name in [a-z0-9_])", file))
			continue
		}
		version, err := strconv.Atoi(mm[1])
		if err != nil || version < 1 {
			problems = append(problems, fmt.Sprintf("%s: version must be a positive number", file))
			continue
		}
		body, err := fs.ReadFile(fsys, file)
		if err != nil {
			return MigrationSet{}, fmt.Errorf("store: read migration %s/%s: %w", component, file, err)
		}
		if strings.TrimSpace(string(body)) == "" {
			problems = append(problems, fmt.Sprintf("%s: empty", file))
			continue
		}
		p := byVersion[version]
		if p == nil {
			p = &pair{name: mm[2]}
			byVersion[version] = p
		}
		if p.name != mm[2] {
			problems = append(problems, fmt.Sprintf("duplicate version %d: %s and %s", version, firstNonEmpty(p.file, p.pgFile), file))
			continue
		}
		slot, text := &p.file, &p.sql
		if mm[3] != "" {
			slot, text = &p.pgFile, &p.pg
		}
		if *slot != "" {
			problems = append(problems, fmt.Sprintf("duplicate version %d: %s and %s", version, *slot, file))
			continue
		}
		*slot, *text = file, string(body)
	}
	versions := make([]int, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	set := MigrationSet{Component: component}
	for i, v := range versions {
		p := byVersion[v]
		if want := i + 1; v != want && (i == 0 || versions[i-1] != v-1) {
			problems = append(problems, fmt.Sprintf("gap: version %d is missing before %s", want, firstNonEmpty(p.file, p.pgFile)))
		}
		if p.file == "" {
			problems = append(problems, fmt.Sprintf("%s has no portable %04d_%s.sql next to it", p.pgFile, v, p.name))
			continue
		}
		set.Migrations = append(set.Migrations, Migration{Version: v, Name: p.name, SQL: p.sql, Postgres: p.pg, Source: p.file})
	}
	if len(problems) > 0 {
		return MigrationSet{}, fmt.Errorf("%w: component %s: %s", ErrBadMigrations, component, strings.Join(problems, "; "))
	}
	return set, nil
}

// ComponentMigrations is what a service's Migrations returns: its own
// set, loaded by LoadMigrations from the directory dir of fsys, followed
// by libraries, the sets of the libraries that own tables in its database
// (such as the outbox's). One order for every service keeps `tamkeen
// migrate status` alike.
func ComponentMigrations(component string, fsys fs.FS, dir string, libraries ...MigrationSet) ([]MigrationSet, error) {
	own, err := LoadMigrations(component, fsys, dir)
	if err != nil {
		return nil, err
	}
	return append([]MigrationSet{own}, libraries...), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// validateSets checks sets built by hand the way LoadMigrations checks files.
func validateSets(sets []MigrationSet) error {
	seen := map[string]bool{}
	for _, s := range sets {
		if s.Component == "" {
			return fmt.Errorf("%w: a migration set has no component name", ErrBadMigrations)
		}
		if seen[s.Component] {
			return fmt.Errorf("%w: component %s given twice", ErrBadMigrations, s.Component)
		}
		seen[s.Component] = true
		for i, m := range s.Migrations {
			if m.Version != i+1 {
				return fmt.Errorf("%w: component %s: migration %s has version %d at position %d; versions must run 1, 2, 3, ... in order", ErrBadMigrations, s.Component, m.source(), m.Version, i+1)
			}
			if m.Name == "" || strings.TrimSpace(m.SQL) == "" {
				return fmt.Errorf("%w: component %s: migration %d needs a name and SQL", ErrBadMigrations, s.Component, m.Version)
			}
		}
	}
	return nil
}

// appliedRow is one row of schema_migrations.
type appliedRow struct {
	version int
	name    string
	at      time.Time
}

// Migrate brings the database up to date with sets: it creates
// schema_migrations(component, version, name, applied_at) if needed and
// applies, in order, each migration the database lacks, each in its own
// transaction together with its schema_migrations row, so a failure (a
// *MigrationError naming the file) leaves no trace of that migration.
// Running it again does nothing. On PostgreSQL a transaction-scoped
// advisory lock serialises replicas that start together, and each applies
// a migration only if no other has; on SQLite the immediate transaction
// does the same. Before changing anything it refuses, with ErrSchemaTooNew,
// a database that has a version newer than sets know.
func (db *DB) Migrate(ctx context.Context, sets ...MigrationSet) error {
	if err := validateSets(sets); err != nil {
		return err
	}
	if err := db.ensureMigrationTable(ctx); err != nil {
		return err
	}
	applied, err := db.appliedMigrations(ctx, true)
	if err != nil {
		return err
	}
	for _, s := range sets {
		known := len(s.Migrations)
		for _, a := range applied[s.Component] {
			if a.version > known {
				return fmt.Errorf("%w: component %s is at version %d (%s) but this build knows versions up to %d; run the newer build or restore a backup", ErrSchemaTooNew, s.Component, a.version, a.name, known)
			}
		}
	}
	for _, s := range sets {
		done := map[int]bool{}
		for _, a := range applied[s.Component] {
			done[a.version] = true
		}
		for _, m := range s.Migrations {
			if done[m.Version] {
				continue
			}
			if err := db.applyMigration(ctx, s.Component, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockMigrations takes the PostgreSQL advisory lock for the rest of tx.
func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.engine != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("store: lock migrations: %w", err)
	}
	return nil
}

func (db *DB) ensureMigrationTable(ctx context.Context) error {
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		// Two replicas racing on CREATE TABLE IF NOT EXISTS can both
		// miss the table and one then fails; the lock prevents that.
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	component  TEXT      NOT NULL,
	version    INTEGER   NOT NULL,
	name       TEXT      NOT NULL,
	applied_at TIMESTAMP NOT NULL,
	PRIMARY KEY (component, version)
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	return nil
}

// migrationTableExists reports whether schema_migrations exists, without
// creating it, so that MigrationStatus changes nothing.
func (db *DB) migrationTableExists(ctx context.Context) (bool, error) {
	var q string
	switch db.engine {
	case Postgres:
		q = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	default:
		q = `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`
	}
	var ok bool
	if err := db.QueryRowContext(ctx, q).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: look for schema_migrations: %w", err)
	}
	return ok, nil
}

// appliedMigrations reads schema_migrations by component, versions ascending.
// When the table may be missing (exists false), a missing table reads empty.
func (db *DB) appliedMigrations(ctx context.Context, exists bool) (map[string][]appliedRow, error) {
	if !exists {
		ok, err := db.migrationTableExists(ctx)
		if err != nil || !ok {
			return map[string][]appliedRow{}, err
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT component, version, name, applied_at FROM schema_migrations ORDER BY component, version`)
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[string][]appliedRow{}
	for rows.Next() {
		var (
			c string
			a appliedRow
		)
		if err := rows.Scan(&c, &a.version, &a.name, ScanTime(&a.at)); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		out[c] = append(out[c], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	return out, nil
}

// applyMigration runs m and records it in one transaction, unless another
// replica recorded it first.
func (db *DB) applyMigration(ctx context.Context, component string, m Migration) error {
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2`, component, m.Version).Scan(&one)
		switch {
		case err == nil:
			return nil // applied meanwhile by another process
		case !IsNoRows(err):
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sqlFor(db.engine)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)`,
			component, m.Version, m.Name, Stamp(db.now()))
		return err
	})
	if err != nil {
		return &MigrationError{Component: component, Version: m.Version, Name: m.Name, Source: m.source(), Err: err}
	}
	return nil
}

// MigrationStatus reports, for each set's component, every known migration
// and whether it is applied, followed by any versions the database has that
// the sets do not know (Unknown). It changes nothing, not even creating
// schema_migrations.
func (db *DB) MigrationStatus(ctx context.Context, sets ...MigrationSet) ([]MigrationState, error) {
	if err := validateSets(sets); err != nil {
		return nil, err
	}
	applied, err := db.appliedMigrations(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []MigrationState
	for _, s := range sets {
		byVersion := map[int]appliedRow{}
		for _, a := range applied[s.Component] {
			byVersion[a.version] = a
		}
		for _, m := range s.Migrations {
			st := MigrationState{Component: s.Component, Version: m.Version, Name: m.Name}
			if a, ok := byVersion[m.Version]; ok {
				st.Applied, st.AppliedAt = true, a.at
			}
			out = append(out, st)
		}
		for _, a := range applied[s.Component] {
			if a.version > len(s.Migrations) {
				out = append(out, MigrationState{Component: s.Component, Version: a.version, Name: a.name, Applied: true, AppliedAt: a.at, Unknown: true})
			}
		}
	}
	return out, nil
}
