package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestUnavailableSQLiteFull fills a real SQLite database to its size limit
// (max_page_count) and classifies the failure as StorageFull; other errors
// of the same database are not the storage's state.
func TestUnavailableSQLiteFull(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx) // the pragma is per connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA max_page_count = 8`); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, full = conn.ExecContext(ctx, `INSERT INTO filler (b) VALUES (zeroblob(4096))`)
	}
	if full == nil {
		t.Fatal("the database never filled up")
	}
	if got := store.Unavailable(fmt.Errorf("payment: insert: %w", full)); got != store.StorageFull {
		t.Errorf("Unavailable(%v) = %q; want %q", full, got, store.StorageFull)
	}
	_, syntax := conn.ExecContext(ctx, `SELEC 1`)
	if got := store.Unavailable(syntax); got != "" {
		t.Errorf("Unavailable(a syntax error) = %q; want none", got)
	}
}

// TestUnavailablePostgres: a server that refuses connections is
// StorageDown; PostgreSQL's SQLSTATEs of a full disk, a shutdown and a
// standby are classified; a constraint violation and the caller's own
// deadline are not the storage's state.
func TestUnavailablePostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Options{Engine: store.Postgres, DSN: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if got := store.Unavailable(err); got != store.StorageDown {
		t.Errorf("Unavailable(connection refused: %v) = %q; want %q", err, got, store.StorageDown)
	}
	for code, want := range map[string]store.Unavailability{
		"53100": store.StorageFull, "53300": store.StorageDown, "57P01": store.StorageDown, "08006": store.StorageDown,
		"25006": store.StorageDown, "23505": "", "40001": "",
	} {
		if got := store.Unavailable(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code})); got != want {
			t.Errorf("Unavailable(SQLSTATE %s) = %q; want %q", code, got, want)
		}
	}
	for _, e := range []error{context.Canceled, context.DeadlineExceeded, errors.New("bug"), nil} {
		if got := store.Unavailable(e); got != "" {
			t.Errorf("Unavailable(%v) = %q; want none", e, got)
		}
	}
}
