package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestInTxRetriesWhenSQLiteIsBusy uses a connection without busy_timeout and
// with deferred transactions, so that a write inside fn fails at once with
// SQLITE_BUSY while another handle holds the write lock.
func TestInTxRetriesWhenSQLiteIsBusy(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name     string
		holdFor  time.Duration
		fnErr    error
		wantRuns int // exact when positive; at least 2 when -1
		wantBusy bool
		wantErr  error
	}{
		{name: "lock released in time", holdFor: 60 * time.Millisecond, wantRuns: -1},
		{name: "lock held throughout", holdFor: 300 * time.Millisecond, wantRuns: 4, wantBusy: true},
		{name: "other errors are not retried", fnErr: errBoom, wantRuns: 1, wantErr: errBoom},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "busy.db")
			holderDB, err := Open(ctx, Options{DSN: path})
			if err != nil {
				t.Fatal(err)
			}
			defer holderDB.Close()
			if _, err := holderDB.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			db := &DB{DB: raw, engine: SQLite, now: time.Now, txAttempts: 4, txBackoff: 10 * time.Millisecond}

			released := make(chan struct{})
			if tc.holdFor > 0 {
				holder, err := holderDB.BeginTx(ctx, nil) // immediate: takes the write lock
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					defer close(released)
					time.Sleep(tc.holdFor)
					holder.Rollback()
				}()
			} else {
				close(released)
			}

			runs := 0
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				runs++
				if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ('a', $1)`, runs); err != nil {
					return err
				}
				return tc.fnErr
			})
			<-released
			switch {
			case tc.wantBusy:
				if !isBusy(err) {
					t.Errorf("InTx = %v; want SQLITE_BUSY after the last attempt", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("InTx = %v; want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("InTx = %v; want nil", err)
			}
			if (tc.wantRuns > 0 && runs != tc.wantRuns) || (tc.wantRuns < 0 && runs < 2) {
				t.Errorf("fn ran %d times; want %d (-1: at least 2)", runs, tc.wantRuns)
			}
			var n int
			if err := holderDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM kv`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.wantErr == nil && !tc.wantBusy]; n != want {
				t.Errorf("rows = %d; want %d", n, want)
			}
		})
	}
}

func TestIsBusyIgnoresOtherErrors(t *testing.T) {
	if isBusy(errors.New("database is locked")) {
		t.Errorf("isBusy(plain error) = true; want false: only driver codes count")
	}
	if isBusy(nil) {
		t.Errorf("isBusy(nil) = true")
	}
}
