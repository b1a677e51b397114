package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit bounds: a batch takes no new caller once it holds this many
// or has been open this long, so that the first callers of a busy batch
// wait for at most a few milliseconds of other callers' work.
const (
	groupMaxBatch = 64
	groupMaxWork  = 2 * time.Millisecond
)

// ErrNestedInTx is returned by InTx on SQLite when it is called from inside
// the fn of another InTx on the same DB. The outer transaction holds the
// database's only writer, so the inner one could never start; use the tx
// the outer fn was given instead.
var ErrNestedInTx = errors.New("store: InTx called inside an InTx fn on the same SQLite database; use the outer fn's tx")

// The savepoint each caller's fn runs inside.
const (
	groupSavepoint = `SAVEPOINT tamkeen_intx`
	groupRelease   = `RELEASE tamkeen_intx`
	groupRollback  = `ROLLBACK TO tamkeen_intx; RELEASE tamkeen_intx`
)

// group is SQLite's group commit: InTx callers queue, and one writer (the
// caller that found none running, then a goroutine while the queue stays
// full, gone when it empties) opens one immediate transaction, gives it to
// each waiting caller in turn, in its own savepoint, and commits once for
// them all. SQLite takes one writer at
// a time anyway; what the group saves is a commit (a WAL fsync) per
// caller, and the sleeps in the busy handler that made the p99 (see
// docs/benchmarks.md).
//
// Each fn runs on its caller's goroutine, so that its panics, runtime.Goexit
// (t.Fatal) and stack stay the caller's; the writer only hands the
// transaction over and back.
type group struct {
	db *sql.DB
	// maxBatch and maxWork bound a batch (groupMaxBatch, groupMaxWork;
	// tests set others).
	maxBatch int
	maxWork  time.Duration

	mu      sync.Mutex
	queue   []*groupReq
	running bool // a writer goroutine is draining queue

	// active is the request whose fn holds the transaction now, so that
	// InTx can tell a nested call (same goroutine) from a concurrent one.
	active atomic.Pointer[groupReq]
	// commits counts COMMITs, for tests.
	commits atomic.Int64
}

// Request states: the writer takes a queued request, or its caller
// cancels it first; whichever swaps first decides.
const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

type groupReq struct {
	ctx   context.Context
	goid  uint64
	state atomic.Int32
	// to carries the writer's word to the caller: a transaction to run fn
	// in (again, after a batch broke), or the final error.
	to chan groupStep
	// from carries fn's outcome back to the writer.
	from chan fnOutcome
	// fn is set while the caller leads its batch and runs fn itself.
	fn func(tx *sql.Tx) error
}

type groupStep struct {
	tx  *sql.Tx // nil: err is final
	err error
}

type fnOutcome struct {
	err     error
	aborted bool // fn panicked or exited its goroutine
}

// run is InTx's one attempt on SQLite with group commit.
func (g *group) run(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	me := goroutineID()
	if a := g.active.Load(); a != nil && me != 0 && a.goid == me {
		return ErrNestedInTx
	}
	r := &groupReq{ctx: ctx, goid: me, to: make(chan groupStep, 1), from: make(chan fnOutcome, 1)}
	var st groupStep
	if g.enqueue(r) {
		// No writer was running: this caller leads the batch, running
		// its own fn first without a hand-over, and takes whoever queues
		// meanwhile; a lone writer thus costs no goroutine switch.
		r.state.Store(reqTaken)
		r.fn = fn
		g.handOff(g.batch([]*groupReq{r}))
		st = <-r.to
	} else {
		select {
		case st = <-r.to:
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqCancelled) {
				return ctx.Err()
			}
			st = <-r.to // the writer took it first: it decides
		}
	}
	for st.tx != nil {
		r.turn(st.tx, fn)
		st = <-r.to
	}
	return st.err
}

// turn runs fn in tx and reports to the writer. If fn panics or exits the
// goroutine, turn waits until the writer has rolled fn's writes back before
// the panic goes on, as a rollback did before.
func (r *groupReq) turn(tx *sql.Tx, fn func(tx *sql.Tx) error) {
	returned := false
	defer func() {
		if !returned {
			r.from <- fnOutcome{aborted: true}
			<-r.to
		}
	}()
	err := fn(tx)
	returned = true
	r.from <- fnOutcome{err: err}
}

// lead runs the leading caller's fn, the first in tx, on its own
// goroutine. If fn panics or exits the goroutine, lead rolls tx back (it
// holds nothing else) and hands the writer over before the panic goes on.
func (g *group) lead(tx *sql.Tx, r *groupReq) fnOutcome {
	fn := r.fn
	r.fn = nil // if it runs again, it is as a queued caller
	returned := false
	defer func() {
		if !returned {
			g.active.Store(nil)
			_ = tx.Rollback()
			g.handOff(nil)
		}
	}()
	err := fn(tx)
	returned = true
	return fnOutcome{err: err}
}

// enqueue queues r behind a running writer, or, when none runs, makes
// r's caller the writer (lead) without queueing it.
func (g *group) enqueue(r *groupReq) (lead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.running {
		g.running = true
		return true
	}
	g.queue = append(g.queue, r)
	return false
}

// handOff ends a leading caller's turn as the writer: a writer goroutine
// takes over the callers to run again and those queued, if any.
func (g *group) handOff(again []*groupReq) {
	if len(again) == 0 {
		g.mu.Lock()
		idle := len(g.queue) == 0
		if idle {
			g.running = false
		}
		g.mu.Unlock()
		if idle {
			return
		}
	}
	go g.write(again)
}

// take returns the next queued request that its caller has not cancelled,
// or nil; with stop, a writer finding the queue empty ends (under the same
// lock as enqueue checks it, so no request is left without a writer).
func (g *group) take(stop bool) *groupReq {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) > 0 {
		r := g.queue[0]
		g.queue[0] = nil
		g.queue = g.queue[1:]
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			return r
		}
	}
	if stop {
		g.running = false
	}
	return nil
}

// write runs batches, again's callers first, until the queue is empty.
func (g *group) write(again []*groupReq) {
	for {
		if len(again) == 0 {
			r := g.take(true)
			if r == nil {
				return
			}
			again = []*groupReq{r}
		}
		again = g.batch(again)
	}
}

// batch runs the callers in pending, then as many queued ones as the bounds
// allow, in one transaction, and commits it. A fn that fails or panics is
// rolled back to its savepoint and its caller answered at once. If the
// transaction itself ends under a fn (the fn ended it, or SQLite rolled it
// all back, as an interrupted write does), that fn's caller gets the error
// and batch returns the callers whose fns had succeeded, to be run again in
// a new transaction (InTx's fn may be run more than once).
func (g *group) batch(pending []*groupReq) (again []*groupReq) {
	// The transaction is no caller's: one caller's cancelled context must
	// not end the others' work.
	bg := context.Background()
	tx, err := g.db.BeginTx(bg, nil)
	if err != nil {
		for _, r := range pending {
			r.to <- groupStep{err: fmt.Errorf("store: begin: %w", err)}
		}
		return nil
	}
	start := time.Now()
	var ran []*groupReq // fns that succeeded, their savepoints released
	n := 0
	next := func() *groupReq {
		if len(pending) > 0 {
			r := pending[0]
			pending = pending[1:]
			return r
		}
		if n >= g.maxBatch || time.Since(start) >= g.maxWork {
			return nil
		}
		return g.take(false)
	}
	for r := next(); r != nil; r = next() {
		n++
		if err := r.ctx.Err(); err != nil {
			r.to <- groupStep{err: err}
			continue
		}
		if _, err := tx.ExecContext(bg, groupSavepoint); err != nil {
			// The transaction broke outside any fn (the connection or
			// the database went): nobody in it commits.
			_ = tx.Rollback()
			err = fmt.Errorf("store: savepoint: %w", err)
			for _, w := range append(append(ran, r), pending...) {
				w.to <- groupStep{err: err}
			}
			return nil
		}
		g.active.Store(r)
		var out fnOutcome
		if r.fn != nil {
			out = g.lead(tx, r)
		} else {
			r.to <- groupStep{tx: tx}
			out = <-r.from
		}
		g.active.Store(nil)
		if out.err == nil && !out.aborted {
			if err := r.ctx.Err(); err != nil {
				// As a transaction begun with ctx would, do not commit
				// for a caller that has gone.
				out.err = fmt.Errorf("store: commit: %w", err)
			}
		}
		if out.err == nil && !out.aborted {
			if _, err := tx.ExecContext(bg, groupRelease); err != nil {
				_ = tx.Rollback()
				r.to <- groupStep{err: fmt.Errorf("store: transaction ended inside fn: %w", err)}
				return g.broken(err, ran, pending)
			}
			ran = append(ran, r)
			continue
		}
		_, rbErr := tx.ExecContext(bg, groupRollback)
		r.to <- groupStep{err: out.err}
		if rbErr != nil {
			_ = tx.Rollback()
			return g.broken(rbErr, ran, pending)
		}
	}
	if len(ran) == 0 {
		// Nothing to keep: skip the fsync.
		_ = tx.Rollback()
		return nil
	}
	err = tx.Commit()
	g.commits.Add(1)
	if err != nil {
		err = fmt.Errorf("store: commit: %w", err)
	}
	for _, r := range ran {
		r.to <- groupStep{err: err}
	}
	return nil
}

// broken decides what becomes of the callers of a batch whose transaction
// a fn ended (err is what its savepoint's release or rollback said). When
// SQLite rolled it back (an interrupted write, a full disk) their fns'
// writes are gone and they are run again. When the fn ended it through
// database/sql (tx.Commit or tx.Rollback: sql.ErrTxDone), nobody knows
// whether their writes were committed, and running them again could do
// them twice: they get an error.
func (g *group) broken(err error, ran, pending []*groupReq) (again []*groupReq) {
	if !errors.Is(err, sql.ErrTxDone) {
		return append(ran, pending...)
	}
	err = fmt.Errorf("store: another fn in this group commit ended the transaction; these writes may or may not be committed: %w", err)
	for _, r := range ran {
		r.to <- groupStep{err: err}
	}
	return pending
}

// goroutineID is the current goroutine's id, read from its stack header
// ("goroutine 18 [running]:"), or 0 if that cannot be read. Go offers no
// other way; it costs about 2 µs, against a commit's hundreds.
func goroutineID() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if !ok {
		return 0
	}
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
}
