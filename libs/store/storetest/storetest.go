// Package storetest gives tests a fresh store.DB on SQLite and on a real
// PostgreSQL server, so that one store test suite runs on both engines:
//
//	func TestPayments(t *testing.T) {
//		storetest.Engines(t, func(t *testing.T, db *store.DB) {
//			if err := db.Migrate(ctx, migrations); err != nil { t.Fatal(err) }
//			...
//		})
//	}
//
// PostgreSQL is reached through the admin URL in TAMKEEN_TEST_POSTGRES_URL
// (default DefaultPostgresURL). A test that needs it fails when it is not
// reachable, saying how to start it, unless TAMKEEN_TEST_SKIP_POSTGRES=1, in
// which case it is skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

const (
	// DefaultPostgresURL is the admin URL used when TAMKEEN_TEST_POSTGRES_URL
	// is unset: the local server with trust authentication.
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// PostgresURLEnv names the variable holding the admin URL; its user must
	// be allowed to create and drop databases.
	PostgresURLEnv = "TAMKEEN_TEST_POSTGRES_URL"
	// SkipPostgresEnv, set to 1, skips PostgreSQL tests instead of failing.
	SkipPostgresEnv = "TAMKEEN_TEST_SKIP_POSTGRES"
)

// setupTimeout bounds creating or dropping a test database.
const setupTimeout = 30 * time.Second

// Engines runs fn as subtests "sqlite" and "postgres", each on a fresh
// empty database.
func Engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// BenchEngines runs fn as sub-benchmarks "sqlite" and "postgres", each
// run on a fresh empty database (a SQLite file, as production keeps).
func BenchEngines(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db"))) })
	b.Run("postgres", func(b *testing.B) { fn(b, PostgresDB(b, PostgresDatabase(b))) })
}

// SQLite returns a DB on a new file in t.TempDir(), closed at cleanup.
func SQLite(t *testing.T) *store.DB {
	t.Helper()
	return SQLiteFile(t, filepath.Join(t.TempDir(), "test.db"))
}

// SQLiteFile opens a DB on the SQLite file at path and closes it at cleanup;
// two calls with one path give two handles on the same database.
func SQLiteFile(t testing.TB, path string) *store.DB {
	t.Helper()
	return openDB(t, store.Options{Engine: store.SQLite, DSN: path}, "SQLite "+path)
}

// Postgres creates a database tamkeen_test_<random> on the server at the
// admin URL, returns a DB on it, and at cleanup closes it and drops the
// database WITH (FORCE).
func Postgres(t *testing.T) *store.DB {
	t.Helper()
	return PostgresDB(t, PostgresDatabase(t))
}

// PostgresDatabase creates a fresh empty database like Postgres does, drops
// it at cleanup, and returns its URL, for tests that open several handles on
// one database (PostgresDB opens each).
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	if os.Getenv(SkipPostgresEnv) == "1" {
		t.Skipf("storetest: PostgreSQL tests skipped because %s=1", SkipPostgresEnv)
	}
	admin := os.Getenv(PostgresURLEnv)
	if admin == "" {
		admin = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	adb, err := store.Open(ctx, store.Options{Engine: store.Postgres, DSN: admin, MaxOpenConns: 1})
	if err != nil {
		t.Fatalf("storetest: PostgreSQL is not reachable at %s: %v\n"+
			"Start it (Debian: `pg_ctlcluster 15 main start`), or point %s at a server whose user may create databases, "+
			"or set %s=1 to skip the PostgreSQL half of store tests.", redact(admin), err, PostgresURLEnv, SkipPostgresEnv)
	}
	defer adb.Close()

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("storetest: name database: %v", err)
	}
	name := "tamkeen_test_" + hex.EncodeToString(b[:])
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })

	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return u
}

// PostgresDB opens a DB on dsn (from PostgresDatabase) and closes it at
// cleanup, before the database is dropped.
func PostgresDB(t testing.TB, dsn string) *store.DB {
	t.Helper()
	return openDB(t, store.Options{Engine: store.Postgres, DSN: dsn}, "test database "+redact(dsn))
}

// openDB opens a DB with opts and closes it at cleanup; what names the
// database in the failure (without a password).
func openDB(t testing.TB, opts store.Options, what string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", what, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func dropDatabase(t testing.TB, admin, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	adb, err := store.Open(ctx, store.Options{Engine: store.Postgres, DSN: admin, MaxOpenConns: 1})
	if err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
		return
	}
	defer adb.Close()
	if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
	}
}

// withDatabase returns the admin URL with its database replaced by name.
func withDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL, got %s", PostgresURLEnv, redact(admin))
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact hides a password in a URL before it is printed.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if strings.Contains(dsn, "password") {
			return "(connection string withheld: it holds a password)"
		}
		return dsn
	}
	return u.Redacted()
}
