package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestPostgresPoolKeepsItsConnections is the connection churn of issue 15:
// with database/sql's default of 2 idle connections, every burst of
// concurrent queries closed all but two of the sessions it opened and the
// next burst opened them again. The pool keeps what it opens (at most
// DefaultPostgresConns) and closes none for being idle in excess.
func TestPostgresPoolKeepsItsConnections(t *testing.T) {
	db := storetest.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const workers, rounds = 16, 10
	for range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				if _, err := db.ExecContext(ctx, "SELECT pg_sleep(0.002)"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	st := db.Stats()
	if st.MaxOpenConnections != store.DefaultPostgresConns {
		t.Errorf("MaxOpenConnections = %d; want %d", st.MaxOpenConnections, store.DefaultPostgresConns)
	}
	if st.MaxIdleClosed != 0 {
		t.Errorf("%d connections were closed for exceeding the idle limit after %d bursts of %d; want 0 (open = idle)", st.MaxIdleClosed, rounds, workers)
	}
	if st.OpenConnections > store.DefaultPostgresConns || st.Idle != st.OpenConnections {
		t.Errorf("open %d, idle %d after the bursts; want at most %d open, all idle", st.OpenConnections, st.Idle, store.DefaultPostgresConns)
	}
}

func TestPoolOptionsMustNotBeNegative(t *testing.T) {
	for _, o := range []store.Options{
		{Engine: store.Postgres, DSN: "postgres://x", MaxOpenConns: -1},
		{Engine: store.Postgres, DSN: "postgres://x", ConnMaxLifetime: -time.Second},
		{Engine: store.SQLite, DSN: ":memory:", ConnMaxIdleTime: -time.Second},
	} {
		if _, err := store.Open(context.Background(), o); err == nil {
			t.Errorf("Open(%+v) accepted negative pool settings", o)
		}
	}
}
