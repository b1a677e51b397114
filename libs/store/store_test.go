package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// migrations returns the first n of a component's test migrations; each
// later one depends on the earlier ones, and v3 inserts a row, so applying
// anything twice or out of order fails or shows.
func migrations(component string, n int) store.MigrationSet {
	all := []store.Migration{
		{Version: 1, Name: "create_items", SQL: `CREATE TABLE items (id TEXT PRIMARY KEY, qty INTEGER NOT NULL)`},
		{Version: 2, Name: "add_note", SQL: `ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT ''`},
		{Version: 3, Name: "seed", SQL: `INSERT INTO items (id, qty, note) VALUES ('seed', 1, 'from v3')`},
	}
	return store.MigrationSet{Component: component, Migrations: all[:n]}
}

func mustMigrate(t *testing.T, db *store.DB, sets ...store.MigrationSet) {
	t.Helper()
	if err := db.Migrate(context.Background(), sets...); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenEngine(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		want := store.Engine(t.Name()[strings.LastIndex(t.Name(), "/")+1:])
		if got := db.Engine(); got != want {
			t.Errorf("Engine() = %q; want %q", got, want)
		}
	})
}

func TestMigrateAppliesInOrderAndIsIdempotent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustMigrate(t, db, migrations("items", 2))
		if got := count(t, db, `SELECT COUNT(*) FROM items`); got != 0 {
			t.Fatalf("items after v2 = %d; want 0", got)
		}
		// Twice more with the full set: v3 must run exactly once.
		mustMigrate(t, db, migrations("items", 3))
		mustMigrate(t, db, migrations("items", 3))
		if got := count(t, db, `SELECT COUNT(*) FROM items WHERE id = 'seed'`); got != 1 {
			t.Errorf("seed rows = %d; want 1 (v3 applied once)", got)
		}

		states, err := db.MigrationStatus(ctx, migrations("items", 3))
		if err != nil {
			t.Fatalf("MigrationStatus: %v", err)
		}
		var got []string
		for _, s := range states {
			if !s.Applied || s.Unknown || s.AppliedAt.IsZero() || s.AppliedAt.Location() != time.UTC {
				t.Errorf("state %+v: want applied, known, with a UTC time", s)
			}
			got = append(got, fmt.Sprintf("%s/%d_%s", s.Component, s.Version, s.Name))
		}
		if want := "items/1_create_items items/2_add_note items/3_seed"; strings.Join(got, " ") != want {
			t.Errorf("status = %q; want %q", strings.Join(got, " "), want)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations WHERE component = $1`, "items"); n != 3 {
			t.Errorf("schema_migrations rows = %d; want 3", n)
		}
	})
}

func TestMigrationStatusOnEmptyDatabase(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		states, err := db.MigrationStatus(ctx, migrations("items", 2))
		if err != nil {
			t.Fatalf("MigrationStatus: %v", err)
		}
		if len(states) != 2 || states[0].Applied || states[1].Applied {
			t.Errorf("status = %+v; want 2 pending", states)
		}
		// Status must not create schema_migrations.
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(new(int)); err == nil {
			t.Errorf("schema_migrations exists after MigrationStatus; want it untouched")
		}
	})
}

func TestMigrateFailureLeavesNoPartialState(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		bad := store.MigrationSet{Component: "items", Migrations: []store.Migration{
			migrations("items", 1).Migrations[0],
			{Version: 2, Name: "half", Source: "0002_half.sql",
				SQL: `CREATE TABLE half (id TEXT PRIMARY KEY); INSERT INTO items (id, qty) VALUES ('x', 1); INSERT INTO no_such_table VALUES (1)`},
		}}
		err := db.Migrate(ctx, bad)
		var me *store.MigrationError
		if !errors.As(err, &me) {
			t.Fatalf("Migrate error = %v; want a *store.MigrationError", err)
		}
		if me.Component != "items" || me.Version != 2 || me.Source != "0002_half.sql" {
			t.Errorf("MigrationError = %+v; want items version 2 from 0002_half.sql", me)
		}
		if !strings.Contains(err.Error(), "0002_half.sql") {
			t.Errorf("error %q does not name the file", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM items`); n != 0 {
			t.Errorf("items rows = %d; want 0 (insert of failed migration rolled back)", n)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM half`).Scan(new(int)); err == nil {
			t.Errorf("table half exists; want it rolled back")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != 1 {
			t.Errorf("schema_migrations rows = %d; want 1 (only v1)", n)
		}
		// Fixed, it applies.
		mustMigrate(t, db, migrations("items", 3))
	})
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustMigrate(t, db, migrations("items", 3))
		other := store.MigrationSet{Component: "other", Migrations: []store.Migration{
			{Version: 1, Name: "create_other", SQL: `CREATE TABLE other (id TEXT PRIMARY KEY)`},
		}}
		err := db.Migrate(ctx, other, migrations("items", 2))
		if !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("Migrate with an older build = %v; want ErrSchemaTooNew", err)
		}
		for _, want := range []string{"items", "version 3", "up to 2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations WHERE component = 'other'`); n != 0 {
			t.Errorf("other's migration applied despite the refusal")
		}
		states, err := db.MigrationStatus(ctx, migrations("items", 2))
		if err != nil {
			t.Fatalf("MigrationStatus: %v", err)
		}
		if len(states) != 3 || !states[2].Unknown || states[2].Version != 3 || states[2].Name != "seed" {
			t.Errorf("status = %+v; want v3 listed as unknown", states)
		}
	})
}

func TestMigrateRejectsBadSets(t *testing.T) {
	db := storetest.SQLite(t)
	cases := []struct {
		name string
		sets []store.MigrationSet
	}{
		{"no component", []store.MigrationSet{{Migrations: migrations("x", 1).Migrations}}},
		{"component twice", []store.MigrationSet{migrations("x", 1), migrations("x", 2)}},
		{"gap", []store.MigrationSet{{Component: "x", Migrations: []store.Migration{migrations("x", 3).Migrations[0], migrations("x", 3).Migrations[2]}}}},
		{"empty SQL", []store.MigrationSet{{Component: "x", Migrations: []store.Migration{{Version: 1, Name: "a", SQL: " "}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.Migrate(context.Background(), tc.sets...); !errors.Is(err, store.ErrBadMigrations) {
				t.Errorf("Migrate = %v; want ErrBadMigrations", err)
			}
		})
	}
}

// concurrentMigrations are enough plain CREATE TABLEs (no IF NOT EXISTS) that
// two replicas racing would collide if both applied one.
func concurrentMigrations(component string) store.MigrationSet {
	set := store.MigrationSet{Component: component}
	for v := 1; v <= 6; v++ {
		set.Migrations = append(set.Migrations, store.Migration{
			Version: v, Name: fmt.Sprintf("t%d", v),
			SQL: fmt.Sprintf(`CREATE TABLE %s_t%d (id TEXT PRIMARY KEY); INSERT INTO %s_t%d (id) VALUES ('once')`, component, v, component, v),
		})
	}
	return set
}

func TestMigrateConcurrentReplicas(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) []*store.DB
	}{
		{"postgres", func(t *testing.T) []*store.DB {
			dsn := storetest.PostgresDatabase(t)
			return []*store.DB{storetest.PostgresDB(t, dsn), storetest.PostgresDB(t, dsn), storetest.PostgresDB(t, dsn)}
		}},
		{"sqlite", func(t *testing.T) []*store.DB {
			path := filepath.Join(t.TempDir(), "shared.db")
			return []*store.DB{storetest.SQLiteFile(t, path), storetest.SQLiteFile(t, path), storetest.SQLiteFile(t, path)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dbs := tc.open(t)
			// First on an empty database (racing to create schema_migrations
			// too), then with the table in place (racing on migrations only).
			for _, component := range []string{"fresh", "existing"} {
				set := concurrentMigrations(component)
				start := make(chan struct{})
				errs := make([]error, len(dbs))
				var wg sync.WaitGroup
				for i, db := range dbs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						errs[i] = db.Migrate(context.Background(), set)
					}()
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("%s: replica %d: Migrate: %v", component, i, err)
					}
				}
				if n := count(t, dbs[0], `SELECT COUNT(*) FROM schema_migrations WHERE component = $1`, component); n != len(set.Migrations) {
					t.Errorf("%s: schema_migrations rows = %d; want %d", component, n, len(set.Migrations))
				}
				for v := 1; v <= len(set.Migrations); v++ {
					if n := count(t, dbs[1], fmt.Sprintf(`SELECT COUNT(*) FROM %s_t%d`, component, v)); n != 1 {
						t.Errorf("%s_t%d rows = %d; want 1", component, v, n)
					}
				}
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestInTx(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustMigrate(t, db, migrations("items", 1))
		insert := func(id string) func(tx *sql.Tx) error {
			return func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, id)
				return err
			}
		}
		isErr := func(target error) func(error) bool {
			return func(err error) bool { return errors.Is(err, target) }
		}
		cases := []struct {
			name      string
			id        string // the row fn inserts
			fn        func(tx *sql.Tx) error
			wantErr   func(error) bool
			wantPanic any
			wantRows  int
		}{
			{name: "commit", id: "a", fn: insert("a"), wantErr: func(err error) bool { return err == nil }, wantRows: 1},
			{name: "error rolls back", id: "b", fn: func(tx *sql.Tx) error {
				if err := insert("b")(tx); err != nil {
					return err
				}
				return fmt.Errorf("later step: %w", errBoom)
			}, wantErr: isErr(errBoom)},
			{name: "panic rolls back and re-panics", id: "c", fn: func(tx *sql.Tx) error {
				if err := insert("c")(tx); err != nil {
					return err
				}
				panic("kaboom")
			}, wantErr: func(err error) bool { return err == nil }, wantPanic: "kaboom"},
			{name: "statement error rolls back earlier writes", id: "d", fn: func(tx *sql.Tx) error {
				if err := insert("d")(tx); err != nil {
					return err
				}
				return insert("d")(tx)
			}, wantErr: store.IsUniqueViolation},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var (
					err       error
					recovered any
				)
				func() {
					defer func() { recovered = recover() }()
					err = db.InTx(ctx, tc.fn)
				}()
				if recovered != tc.wantPanic {
					t.Errorf("recovered %v; want %v", recovered, tc.wantPanic)
				}
				if !tc.wantErr(err) {
					t.Errorf("InTx = %v; not the error this case wants", err)
				}
				if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = $1`, tc.id); n != tc.wantRows {
					t.Errorf("rows with id %s = %d; want %d", tc.id, n, tc.wantRows)
				}
			})
		}
		// The pool is still usable after the panic: no transaction leaked.
		if err := db.InTx(ctx, insert("after")); err != nil {
			t.Errorf("InTx after panic: %v", err)
		}
	})
}

func TestIsUniqueViolation(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustMigrate(t, db, store.MigrationSet{Component: "u", Migrations: []store.Migration{{Version: 1, Name: "create", SQL: `CREATE TABLE u (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE)`}}})
		if _, err := db.ExecContext(ctx, `INSERT INTO u (id, email) VALUES ('1', 'a@example.ps')`); err != nil {
			t.Fatal(err)
		}
		exec := func(q string) error { _, err := db.ExecContext(ctx, q); return err }
		cases := []struct {
			name string
			err  error
			want bool
		}{
			{"primary key", exec(`INSERT INTO u (id, email) VALUES ('1', 'b@example.ps')`), true},
			{"unique column", exec(`INSERT INTO u (id, email) VALUES ('2', 'a@example.ps')`), true},
			{"wrapped", fmt.Errorf("create user: %w", exec(`INSERT INTO u (id, email) VALUES ('1', 'c@example.ps')`)), true},
			{"not null", exec(`INSERT INTO u (id) VALUES ('3')`), false},
			{"syntax", exec(`INSERT INTO`), false},
			{"nil", nil, false},
			{"no rows", sql.ErrNoRows, false},
		}
		for _, tc := range cases {
			if got := store.IsUniqueViolation(tc.err); got != tc.want {
				t.Errorf("%s: IsUniqueViolation(%v) = %v; want %v", tc.name, tc.err, got, tc.want)
			}
		}
		// ON CONFLICT DO NOTHING ... RETURNING gives no rows on both engines.
		err := db.QueryRowContext(ctx, `INSERT INTO u (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id`, "1", "z@example.ps").Scan(new(string))
		if !store.IsNoRows(err) || !store.IsNoRows(fmt.Errorf("wrap: %w", err)) {
			t.Errorf("conflicting insert RETURNING: %v; want no rows", err)
		}
		if store.IsNoRows(errBoom) {
			t.Errorf("IsNoRows(errBoom) = true")
		}
	})
}

func TestTimesRoundTripInUTC(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustMigrate(t, db, store.MigrationSet{Component: "ev", Migrations: []store.Migration{{Version: 1, Name: "create",
			SQL: `CREATE TABLE ev (id TEXT PRIMARY KEY, at TIMESTAMP NOT NULL, done_at TIMESTAMP, ok BOOLEAN NOT NULL DEFAULT FALSE)`}}})
		hebron := time.FixedZone("Hebron", 3*60*60)
		local := time.Date(2026, 3, 14, 10, 30, 15, 123456000, hebron) // 07:30:15.123456 UTC
		later := local.Add(90 * time.Minute).UTC()
		if _, err := db.ExecContext(ctx, `INSERT INTO ev (id, at, done_at, ok) VALUES ($1, $2, NULL, $3), ($4, $5, $5, $6)`, "a", local, true, "b", later, false); err != nil {
			t.Fatalf("insert: %v", err)
		}

		var (
			at   time.Time
			done sql.NullTime
			ok   bool
		)
		if err := db.QueryRowContext(ctx, `SELECT at, done_at, ok FROM ev WHERE id = $1`, "a").Scan(&at, &done, &ok); err != nil {
			t.Fatalf("select: %v", err)
		}
		if !at.Equal(local) || at.Location() != time.UTC {
			t.Errorf("at = %v; want %v in UTC", at, local.UTC())
		}
		if done.Valid || !ok {
			t.Errorf("done_at, ok = %v, %v; want NULL, true", done, ok)
		}
		// The stored wall clock is UTC, so SQL comparisons and ordering agree
		// with Go's whatever zone the caller used.
		var wall string
		q := `SELECT CAST(at AS TEXT) FROM ev WHERE id = 'a'`
		if err := db.QueryRowContext(ctx, q).Scan(&wall); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !strings.HasPrefix(wall, "2026-03-14 07:30:15.123456") {
			t.Errorf("stored text = %q; want the UTC wall clock 2026-03-14 07:30:15.123456", wall)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM ev WHERE at < $1`, local.Add(time.Second).In(hebron)); n != 1 {
			t.Errorf("rows before local+1s = %d; want 1", n)
		}
		// Aggregates lose SQLite's column type; ScanTime reads either form.
		var max time.Time
		var maxDone, minDone sql.NullTime
		if err := db.QueryRowContext(ctx, `SELECT MAX(at), MAX(done_at), MIN(CASE WHEN id = 'a' THEN done_at END) FROM ev`).Scan(store.ScanTime(&max), store.ScanNullTime(&maxDone), store.ScanNullTime(&minDone)); err != nil {
			t.Fatalf("aggregates: %v", err)
		}
		if !max.Equal(later) || max.Location() != time.UTC {
			t.Errorf("MAX(at) = %v; want %v", max, later)
		}
		if !maxDone.Valid || !maxDone.Time.Equal(later) || minDone.Valid {
			t.Errorf("MAX(done_at), MIN(NULL) = %v, %v; want %v, NULL", maxDone, minDone, later)
		}
	})
}

func TestBlobRoundTripWithPostgresOverride(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		set, err := store.LoadMigrations("docs", fstest.MapFS{
			"0001_create_docs.sql":          {Data: []byte(`CREATE TABLE docs (id TEXT PRIMARY KEY, body BLOB NOT NULL)`)},
			"0001_create_docs.postgres.sql": {Data: []byte(`CREATE TABLE docs (id TEXT PRIMARY KEY, body BYTEA NOT NULL)`)},
		}, ".")
		if err != nil {
			t.Fatalf("LoadMigrations: %v", err)
		}
		mustMigrate(t, db, set)
		body := []byte{0x00, 0x01, 0xff, 0xfe, '\'', '\\', 0x00, 0x80}
		if _, err := db.ExecContext(ctx, `INSERT INTO docs (id, body) VALUES ($1, $2)`, "d", body); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got []byte
		if err := db.QueryRowContext(ctx, `SELECT body FROM docs WHERE id = $1`, "d").Scan(&got); err != nil {
			t.Fatalf("select: %v", err)
		}
		if string(got) != string(body) {
			t.Errorf("body = %x; want %x", got, body)
		}
		if db.Engine() == store.Postgres {
			var typ string
			if err := db.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns WHERE table_name = 'docs' AND column_name = 'body'`).Scan(&typ); err != nil {
				t.Fatal(err)
			}
			if typ != "bytea" {
				t.Errorf("docs.body type = %q; want bytea from the .postgres.sql override", typ)
			}
		}
	})
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string // version_name[+pg] of each migration
		wantErr string   // substring of the error; "" means success
	}{
		{name: "ordered with override, other files ignored", fsys: fstest.MapFS{
			"0002_b.sql":          file("SELECT 2"),
			"0001_a.sql":          file("SELECT 1"),
			"0001_a.postgres.sql": file("SELECT 1"),
			"README.md":           file("notes"),
			"old/0099_x.sql":      file("SELECT 99"),
		}, want: []string{"1_a+pg", "2_b"}},
		{name: "empty directory", fsys: fstest.MapFS{}, want: nil},
		{name: "gap", fsys: fstest.MapFS{"0001_a.sql": file("x"), "0003_c.sql": file("x")}, wantErr: "gap: version 2 is missing before 0003_c.sql"},
		{name: "starts at 2", fsys: fstest.MapFS{"0002_a.sql": file("x")}, wantErr: "version 1 is missing"},
		{name: "duplicate version", fsys: fstest.MapFS{"0001_a.sql": file("x"), "0001_b.sql": file("x")}, wantErr: "duplicate version 1: 0001_a.sql and 0001_b.sql"},
		{name: "duplicate by padding", fsys: fstest.MapFS{"0001_a.sql": file("x"), "00001_a.sql": file("x")}, wantErr: "duplicate version 1"},
		{name: "no digits", fsys: fstest.MapFS{"init.sql": file("x")}, wantErr: "init.sql: bad name"},
		{name: "too few digits", fsys: fstest.MapFS{"1_a.sql": file("x")}, wantErr: "1_a.sql: bad name"},
		{name: "upper case", fsys: fstest.MapFS{"0001_Init.sql": file("x")}, wantErr: "0001_Init.sql: bad name"},
		{name: "other engine suffix", fsys: fstest.MapFS{"0001_a.mysql.sql": file("x")}, wantErr: "0001_a.mysql.sql: bad name"},
		{name: "version zero", fsys: fstest.MapFS{"0000_a.sql": file("x")}, wantErr: "version must be a positive number"},
		{name: "override alone", fsys: fstest.MapFS{"0001_a.postgres.sql": file("x")}, wantErr: "0001_a.postgres.sql has no portable 0001_a.sql"},
		{name: "empty file", fsys: fstest.MapFS{"0001_a.sql": file(" \n")}, wantErr: "0001_a.sql: empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := store.LoadMigrations("comp", tc.fsys, ".")
			if tc.wantErr != "" {
				if !errors.Is(err, store.ErrBadMigrations) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadMigrations error = %v; want ErrBadMigrations containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadMigrations: %v", err)
			}
			if set.Component != "comp" {
				t.Errorf("Component = %q; want comp", set.Component)
			}
			var got []string
			for _, m := range set.Migrations {
				s := fmt.Sprintf("%d_%s", m.Version, m.Name)
				if m.Postgres != "" {
					s += "+pg"
				}
				if m.Source != fmt.Sprintf("%04d_%s.sql", m.Version, m.Name) {
					t.Errorf("Source = %q for %s", m.Source, s)
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("migrations = %v; want %v", got, tc.want)
			}
		})
	}
	if _, err := store.LoadMigrations("", fstest.MapFS{}, "."); !errors.Is(err, store.ErrBadMigrations) {
		t.Errorf("LoadMigrations with no component = %v; want ErrBadMigrations", err)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "svc")
	cases := []struct {
		name    string
		opts    store.Options
		wantErr error
	}{
		{"unknown engine", store.Options{Engine: "mysql", DSN: "x"}, store.ErrBadOptions},
		{"sqlite without DSN", store.Options{}, store.ErrBadOptions},
		{"postgres without DSN", store.Options{Engine: store.Postgres}, store.ErrBadOptions},
		{"postgres bad DSN", store.Options{Engine: store.Postgres, DSN: "postgres://h:notaport/db"}, store.ErrBadOptions},
		{"negative pool", store.Options{DSN: ":memory:", MaxOpenConns: -1}, store.ErrBadOptions},
		{"sqlite path with query", store.Options{DSN: filepath.Join(dir, "a.db?x=1")}, store.ErrBadOptions},
		{"sqlite default engine creates directory", store.Options{DSN: filepath.Join(dir, "svc.db"), MaxOpenConns: 2}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, err := store.Open(ctx, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Open = %v; want %v", err, tc.wantErr)
				}
				if db != nil {
					db.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			if db.Engine() != store.SQLite {
				t.Errorf("Engine = %q; want sqlite", db.Engine())
			}
		})
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("data dir: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode = %o; want 700", perm)
	}
}

func TestSQLitePragmas(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	cases := []struct{ pragma, want string }{
		{"foreign_keys", "1"},
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
	}
	for _, tc := range cases {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q; want %q", tc.pragma, got, tc.want)
		}
	}
	// Foreign keys are enforced, not only declared.
	mustMigrate(t, db, store.MigrationSet{Component: "fk", Migrations: []store.Migration{{Version: 1, Name: "create", SQL: `
CREATE TABLE parent (id TEXT PRIMARY KEY);
CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent (id))`}}})
	if _, err := db.ExecContext(ctx, `INSERT INTO child (id, parent_id) VALUES ('c', 'missing')`); err == nil {
		t.Errorf("insert with a dangling foreign key succeeded; want an error")
	}
}

func TestSQLiteMemorySharedAcrossConnections(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DSN: ":memory:", MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	other, err := store.Open(ctx, store.Options{DSN: ":memory:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer other.Close()
	mustMigrate(t, db, migrations("items", 3))
	// Hold one connection busy so that the next query needs another.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n := count(t, db, `SELECT COUNT(*) FROM items`); n != 1 {
		t.Errorf("items on a second connection = %d; want 1", n)
	}
	// A second :memory: DB is a different database.
	if err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(new(int)); err == nil {
		t.Errorf("second :memory: database sees the first one's tables")
	}
}

func BenchmarkInTxInsertSQLite(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := db.Migrate(ctx, migrations("items", 1)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, $2)`, fmt.Sprintf("item_%d", i), i)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
