package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// groupDB is a SQLite DB with a counter row and an items table.
func groupDB(t *testing.T) *store.DB {
	t.Helper()
	db := storetest.SQLite(t)
	mustMigrate(t, db, migrations("items", 1), store.MigrationSet{Component: "counter", Migrations: []store.Migration{{
		Version: 1, Name: "create", SQL: `CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter (id, n) VALUES (1, 0)`,
	}}})
	return db
}

// holdWriter starts an InTx whose fn waits until release is called, and
// returns once that fn runs, so that the InTx calls made next queue behind
// it; wait returns the held call's error.
func holdWriter(t *testing.T, db *store.DB) (release func(), wait func() error) {
	t.Helper()
	running, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.InTx(context.Background(), func(tx *sql.Tx) error {
			close(running)
			<-gate
			return nil
		})
	}()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the holding InTx never ran")
	}
	return sync.OnceFunc(func() { close(gate) }), func() error { return <-done }
}

// waitQueued waits until n InTx calls are queued on db.
func waitQueued(t *testing.T, db *store.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for store.QueuedInTx(db) < n {
		if time.Now().After(deadline) {
			t.Fatalf("queued InTx calls = %d; want %d", store.QueuedInTx(db), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitBatchesConcurrentInTx queues 64 InTx calls behind a held
// one and checks that they commit in as many COMMITs as the batch bound
// says (one per call without grouping), serially (each fn sees the ones
// before it), and that the fn that fails and the one that panics in the
// middle leave no trace while their neighbours commit.
func TestGroupCommitBatchesConcurrentInTx(t *testing.T) {
	const calls = 64
	cases := []struct {
		name        string
		maxBatch    int
		wantCommits int64 // the held call's batch, then the queued calls'
	}{
		{name: "one batch", maxBatch: calls + 1, wantCommits: 1},
		{name: "bounded batches", maxBatch: 10, wantCommits: 7}, // 1+9, 10 x 5, 4
	}
	errBoom := errors.New("boom")
	const failing, panicking = 20, 40
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := groupDB(t)
			store.SetGroupBounds(db, tc.maxBatch, time.Hour)
			before := store.GroupCommits(db)
			release, wait := holdWriter(t, db)

			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				seen   []int // counter values the committed fns saw
				errs   = make([]error, calls)
				panics = make([]any, calls)
			)
			for i := range calls {
				wg.Go(func() {
					defer func() { panics[i] = recover() }()
					errs[i] = db.InTx(ctx, func(tx *sql.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, `UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n`).Scan(&n); err != nil {
							return err
						}
						if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, $2)`, fmt.Sprint(i), n); err != nil {
							return err
						}
						switch i {
						case failing:
							return errBoom
						case panicking:
							panic("kaboom")
						}
						mu.Lock()
						seen = append(seen, n)
						mu.Unlock()
						return nil
					})
				})
			}
			waitQueued(t, db, calls)
			release()
			wg.Wait()
			if err := wait(); err != nil {
				t.Fatalf("held InTx = %v", err)
			}

			for i := range calls {
				switch {
				case i == failing && !errors.Is(errs[i], errBoom):
					t.Errorf("InTx %d = %v; want %v", i, errs[i], errBoom)
				case i == panicking && panics[i] != "kaboom":
					t.Errorf("InTx %d recovered %v; want the fn's panic kaboom", i, panics[i])
				case i != failing && i != panicking && (errs[i] != nil || panics[i] != nil):
					t.Errorf("InTx %d = %v, panic %v; want nil", i, errs[i], panics[i])
				}
			}
			if got := store.GroupCommits(db) - before; got != tc.wantCommits {
				t.Errorf("COMMITs = %d; want %d for %d calls behind one", got, tc.wantCommits, calls)
			}
			// Serial: the committed fns saw 1..62, each once; the two that
			// were rolled back took no number from their neighbours.
			slices.Sort(seen)
			if want := calls - 2; len(seen) != want || seen[0] != 1 || seen[len(seen)-1] != want || len(slices.Compact(seen)) != want {
				t.Errorf("counter values seen = %v; want 1..%d once each", seen, want)
			}
			if n := count(t, db, `SELECT n FROM counter WHERE id = 1`); n != calls-2 {
				t.Errorf("counter = %d; want %d", n, calls-2)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM items`); n != calls-2 {
				t.Errorf("items = %d; want %d", n, calls-2)
			}
			for _, i := range []int{failing, panicking} {
				if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = $1`, fmt.Sprint(i)); n != 0 {
					t.Errorf("items written by the fn that failed (%d) = %d; want 0", i, n)
				}
			}
		})
	}
}

// TestGroupCommitUniqueViolationStaysWithItsFn: two fns of one batch
// insert the same key; the second gets the unique violation, the first
// commits.
func TestGroupCommitUniqueViolationStaysWithItsFn(t *testing.T) {
	ctx := context.Background()
	db := groupDB(t)
	release, wait := holdWriter(t, db)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			errs <- db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ('same', 1)`)
				return err
			})
		}()
	}
	waitQueued(t, db, 2)
	release()
	var ok, unique int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case store.IsUniqueViolation(err):
			unique++
		default:
			t.Errorf("InTx = %v; want nil or a unique violation", err)
		}
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if ok != 1 || unique != 1 {
		t.Errorf("%d committed, %d unique violations; want 1 and 1", ok, unique)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = 'same'`); n != 1 {
		t.Errorf("rows = %d; want 1", n)
	}
}

// TestGroupCommitCancelledBeforeItsTurn: a caller whose context ends while
// it waits gets ctx.Err() and its fn never runs.
func TestGroupCommitCancelledBeforeItsTurn(t *testing.T) {
	db := groupDB(t)
	release, wait := holdWriter(t, db)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- db.InTx(ctx, func(tx *sql.Tx) error {
			ran <- struct{}{}
			return nil
		})
	}()
	waitQueued(t, db, 1)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("InTx = %v; want %v", err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled InTx still waits for its turn")
	}
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	// The next batch runs, without the cancelled fn.
	if err := db.InTx(context.Background(), func(tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the cancelled caller's fn ran")
	default:
	}
}

// TestGroupCommitNestedInTxFails: InTx inside an InTx fn on the same DB
// would wait for the writer its own caller holds; it fails at once.
func TestGroupCommitNestedInTxFails(t *testing.T) {
	db := groupDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var inner error
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		inner = db.InTx(ctx, func(tx *sql.Tx) error { return nil })
		_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ('outer', 1)`)
		return err
	})
	if !errors.Is(inner, store.ErrNestedInTx) {
		t.Errorf("nested InTx = %v; want %v", inner, store.ErrNestedInTx)
	}
	if err != nil {
		t.Errorf("outer InTx = %v; want nil", err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = 'outer'`); n != 1 {
		t.Errorf("outer rows = %d; want 1", n)
	}
}

// TestGroupCommitInterruptedWriteDoesNotLoseNeighbours: the fns before one
// whose write SQLite interrupts (its caller's context ended), which rolls
// the whole shared transaction back, are run again and commit; the one
// after it runs in the next transaction; the interrupted one gets its error
// and its writes are gone.
func TestGroupCommitInterruptedWriteDoesNotLoseNeighbours(t *testing.T) {
	ctx := context.Background()
	db := groupDB(t)
	release, wait := holdWriter(t, db)

	var mu sync.Mutex
	runs := map[string]int{}
	insert := func(ctx context.Context, id string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			mu.Lock()
			runs[id]++
			mu.Unlock()
			_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, id)
			return err
		}
	}
	results := map[string]chan error{}
	start := func(ctx context.Context, id string, fn func(tx *sql.Tx) error) {
		c := make(chan error, 1)
		results[id] = c
		go func() { c <- db.InTx(ctx, fn) }()
	}
	start(ctx, "before", insert(ctx, "before"))
	waitQueued(t, db, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start(cctx, "interrupted", func(tx *sql.Tx) error {
		if err := insert(cctx, "interrupted")(tx); err != nil {
			return err
		}
		// Late enough that the write below has begun on a loaded machine
		// (at 20 ms a descheduled goroutine could see its context ended
		// before the statement started, so no interrupt, and fail below).
		time.AfterFunc(200*time.Millisecond, cancel)
		// A write long enough to be interrupted: up to 100 million rows.
		_, err := tx.ExecContext(cctx, `INSERT INTO items (id, qty)
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000000) SELECT 'bulk' || i, i FROM s`)
		return err
	})
	waitQueued(t, db, 2)
	start(ctx, "after", insert(ctx, "after"))
	waitQueued(t, db, 3)
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for id, c := range results {
		err := <-c
		if id == "interrupted" {
			if err == nil {
				t.Errorf("interrupted InTx = nil; want an error")
			}
			continue
		}
		if err != nil {
			t.Errorf("InTx %s = %v; want nil", id, err)
		}
	}
	for id, want := range map[string]int{"before": 1, "after": 1, "interrupted": 0} {
		if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = $1`, id); n != want {
			t.Errorf("rows %s = %d; want %d", id, n, want)
		}
	}
	if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id LIKE 'bulk%'`); n != 0 {
		t.Errorf("rows of the interrupted bulk insert = %d; want 0", n)
	}
	if runs["before"] != 2 || runs["after"] != 1 {
		t.Errorf("fn runs = %v; want before twice (SQLite rolled its first run back with the interrupted write), after once", runs)
	}
}

// TestGroupCommitFnRollingBackTheSharedTx: a fn that calls tx.Rollback
// itself gets an error; the fns before it in its batch cannot know whether
// their writes survived and get an error too (they are not run again, in
// case it was tx.Commit); the one after it runs in a new transaction.
func TestGroupCommitFnRollingBackTheSharedTx(t *testing.T) {
	ctx := context.Background()
	db := groupDB(t)
	release, wait := holdWriter(t, db)
	insert := func(id string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, id)
			return err
		}
	}
	ids := []string{"before", "culprit", "after"}
	fns := []func(tx *sql.Tx) error{insert("before"), func(tx *sql.Tx) error { return tx.Rollback() }, insert("after")}
	errs := make([]chan error, len(ids))
	for i, fn := range fns {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- db.InTx(ctx, fn) }()
		waitQueued(t, db, i+1)
	}
	release()
	// The held call may share the culprit's batch, and then fail like
	// "before"; it writes nothing.
	_ = wait()
	for i, id := range ids {
		err := <-errs[i]
		if wantErr := id != "after"; (err != nil) != wantErr {
			t.Errorf("InTx %s = %v; want an error: %t", id, err, wantErr)
		}
	}
	for id, want := range map[string]int{"before": 0, "after": 1} {
		if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = $1`, id); n != want {
			t.Errorf("rows %s = %d; want %d", id, n, want)
		}
	}
}

// TestGroupCommitLeaderFails: the caller that found no writer runs its fn
// itself and leads the batch; when that fn fails or panics with callers
// queued behind it, its writes go and the queued callers still commit.
func TestGroupCommitLeaderFails(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name string
		end  func() error
	}{
		{name: "error", end: func() error { return errBoom }},
		{name: "panic", end: func() error { panic("kaboom") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := groupDB(t)
			running, gate := make(chan struct{}), make(chan struct{})
			type result struct {
				err       error
				recovered any
			}
			lead := make(chan result, 1)
			go func() {
				var r result
				defer func() { r.recovered = recover(); lead <- r }()
				r.err = db.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ('lead', 1)`); err != nil {
						return err
					}
					close(running)
					<-gate
					return tc.end()
				})
			}()
			<-running
			const queued = 3
			errs := make(chan error, queued)
			for i := range queued {
				go func() {
					errs <- db.InTx(ctx, func(tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, fmt.Sprint(i))
						return err
					})
				}()
			}
			waitQueued(t, db, queued)
			close(gate)
			r := <-lead
			if tc.name == "panic" && r.recovered != "kaboom" {
				t.Errorf("leader recovered %v; want kaboom", r.recovered)
			}
			if tc.name == "error" && !errors.Is(r.err, errBoom) {
				t.Errorf("leader InTx = %v; want %v", r.err, errBoom)
			}
			for range queued {
				select {
				case err := <-errs:
					if err != nil {
						t.Errorf("queued InTx = %v; want nil", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("queued InTx calls were left waiting after the leader failed")
				}
			}
			if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id = 'lead'`); n != 0 {
				t.Errorf("leader's rows = %d; want 0", n)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM items WHERE id <> 'lead'`); n != queued {
				t.Errorf("queued callers' rows = %d; want %d", n, queued)
			}
		})
	}
}

// TestGroupCommitTakesLoneWrites: a write made with DB.ExecContext, outside
// any transaction, queues behind a held InTx like another InTx and commits
// with the batch (one COMMIT for it and the InTx calls queued beside it),
// instead of waiting in SQLite's busy handler for the write lock; inside an
// InTx fn it is refused as a nested InTx.
func TestGroupCommitTakesLoneWrites(t *testing.T) {
	db := groupDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release, wait := holdWriter(t, db)
	before := store.GroupCommits(db)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			if i%2 == 0 {
				_, err := db.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, fmt.Sprintf("lone-%d", i))
				errs <- err
				return
			}
			errs <- db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, 1)`, fmt.Sprintf("tx-%d", i))
				return err
			})
		}()
	}
	waitQueued(t, db, 4)
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, `SELECT COUNT(*) FROM items`); n != 4 {
		t.Errorf("rows = %d; want 4", n)
	}
	// The held call and the four queued behind it share one or two
	// commits (five without the group).
	if got := store.GroupCommits(db) - before; got < 1 || got > 2 {
		t.Errorf("commits = %d; want 1 or 2 for the held InTx and the four queued writes", got)
	}
	var nested error
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		_, nested = db.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ('nested', 1)`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(nested, store.ErrNestedInTx) {
		t.Errorf("ExecContext inside InTx = %v; want %v", nested, store.ErrNestedInTx)
	}
}
