package storetest_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// recorder is a testing.TB that records Fatalf, Skipf and cleanups instead of
// acting on them, so the helpers' failure paths can be checked.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	skipped  string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) { r.Fatalf(format, args...) }
func (r *recorder) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }

// run calls f like a test body would, in its own goroutine so that
// Fatalf/Skipf can stop it, then runs the recorded cleanups.
func (r *recorder) run(f func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestPostgresDatabaseUnreachableFailsWithHowTo(t *testing.T) {
	t.Setenv(storetest.SkipPostgresEnv, "")
	t.Setenv(storetest.PostgresURLEnv, "postgres://postgres:secret@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	r := &recorder{TB: t}
	r.run(func(tb testing.TB) { storetest.PostgresDatabase(tb) })
	if r.skipped != "" {
		t.Fatalf("skipped (%s); want a failure", r.skipped)
	}
	for _, want := range []string{"not reachable", "pg_ctlcluster", storetest.PostgresURLEnv, storetest.SkipPostgresEnv + "=1"} {
		if !strings.Contains(r.fatal, want) {
			t.Errorf("failure %q lacks %q", r.fatal, want)
		}
	}
	if strings.Contains(r.fatal, "secret") {
		t.Errorf("failure %q shows the password", r.fatal)
	}
}

func TestPostgresDatabaseSkipsWhenAsked(t *testing.T) {
	t.Setenv(storetest.SkipPostgresEnv, "1")
	t.Setenv(storetest.PostgresURLEnv, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	r := &recorder{TB: t}
	r.run(func(tb testing.TB) { storetest.PostgresDatabase(tb) })
	if r.fatal != "" || !strings.Contains(r.skipped, storetest.SkipPostgresEnv) {
		t.Errorf("fatal %q, skipped %q; want a skip naming %s", r.fatal, r.skipped, storetest.SkipPostgresEnv)
	}
}

func TestPostgresDatabaseIsFreshAndDropped(t *testing.T) {
	skipIfAsked(t)
	ctx := context.Background()
	r := &recorder{TB: t}
	var name string
	r.run(func(tb testing.TB) {
		dsn := storetest.PostgresDatabase(tb)
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parse %s: %v", dsn, err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		db := storetest.PostgresDB(tb, dsn)
		var tables int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
			tb.Fatalf("count tables: %v", err)
		}
		if tables != 0 {
			tb.Fatalf("fresh database has %d tables", tables)
		}
		// An open handle must not stop the drop (WITH (FORCE)).
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (id TEXT)`); err != nil {
			tb.Fatalf("create table: %v", err)
		}
	})
	if r.fatal != "" || r.skipped != "" {
		t.Fatalf("fatal %q, skipped %q", r.fatal, r.skipped)
	}
	if !strings.HasPrefix(name, "tamkeen_test_") {
		t.Errorf("database name %q; want the tamkeen_test_ prefix", name)
	}
	admin := storetest.Postgres(t) // any database on the same server will do
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after cleanup", name)
	}
}

func skipIfAsked(t *testing.T) {
	t.Helper()
	if os.Getenv(storetest.SkipPostgresEnv) == "1" {
		t.Skipf("%s=1", storetest.SkipPostgresEnv)
	}
}

func TestEnginesRunsBothOnFreshDatabases(t *testing.T) {
	var (
		names   []string
		engines []store.Engine
	)
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		names = append(names, t.Name())
		engines = append(engines, db.Engine())
		// Each subtest gets an empty database: creating the same table in
		// both would fail if they shared one.
		if _, err := db.ExecContext(context.Background(), `CREATE TABLE only_once (id TEXT)`); err != nil {
			t.Errorf("create table: %v", err)
		}
	})
	want := []string{t.Name() + "/sqlite", t.Name() + "/postgres"}
	wantEngines := []store.Engine{store.SQLite, store.Postgres}
	if os.Getenv(storetest.SkipPostgresEnv) == "1" {
		want, wantEngines = want[:1], wantEngines[:1]
	}
	if !slices.Equal(names, want) || !slices.Equal(engines, wantEngines) {
		t.Errorf("ran %v on %v; want %v on sqlite, postgres", names, engines, want)
	}
}
