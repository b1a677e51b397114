package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// appMigrations stands in for a service's own tables: the state that an
// event announces (payments) and the state a consumer derives (ledger).
var appMigrations = store.MigrationSet{
	Component: "app",
	Migrations: []store.Migration{{Version: 1, Name: "payments_and_ledger", SQL: `
		CREATE TABLE payments (id TEXT PRIMARY KEY, state TEXT NOT NULL);
		CREATE TABLE ledger (event_id TEXT NOT NULL, payment_id TEXT NOT NULL);`}},
}

func migrate(t testing.TB, db *store.DB) {
	t.Helper()
	if err := db.Migrate(testCtx(t), appMigrations, events.Migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func fastRelay(db *store.DB, bus *events.Bus) *events.Relay {
	return events.NewRelay(db, bus, events.RelayOptions{
		BatchSize: 10, PollInterval: 20 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		PublishTimeout: 300 * time.Millisecond,
	})
}

// succeed commits a payment state change and the event announcing it in one
// transaction, the way a service does.
func succeed(ctx context.Context, t testing.TB, db *store.DB, paymentID string) events.Event {
	t.Helper()
	ev, err := events.NewEvent("tamkeen/payment", "tamkeen.payment.succeeded.v1", wrapperspb.String(paymentID))
	if err != nil {
		t.Fatal(err)
	}
	ev.Subject = paymentID
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, state) VALUES ($1, 'succeeded')`, paymentID); err != nil {
			return err
		}
		return events.Enqueue(ctx, tx, "tamkeen.payment.succeeded", ev)
	})
	if err != nil {
		t.Fatalf("commit payment %s: %v", paymentID, err)
	}
	return ev
}

func count(t testing.TB, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(testCtx(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// eventually polls cond every 10 ms for up to 15 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// applyToLedger is an idempotent consumer: it records the payment in the
// ledger through ProcessOnce.
func applyToLedger(db *store.DB) func(ctx context.Context, ev events.Event) (bool, error) {
	return func(ctx context.Context, ev events.Event) (bool, error) {
		var p wrapperspb.StringValue
		if err := ev.UnmarshalData(&p); err != nil {
			return false, events.Permanent(err)
		}
		return events.ProcessOnce(ctx, db, "ledger", ev.ID, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO ledger (event_id, payment_id) VALUES ($1, $2)`, ev.ID, p.GetValue())
			return err
		})
	}
}

func TestEnqueueAndRelay(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		bus, _ := newBus(t, events.BusOptions{})
		ctx := testCtx(t)
		tp := sdktrace.NewTracerProvider()
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tctx, span := tp.Tracer("test").Start(ctx, "POST /v1/payments")
		var want []events.Event
		for i := 0; i < 25; i++ {
			want = append(want, succeed(tctx, t, db, fmt.Sprintf("pay_%02d", i)))
		}
		span.End()

		relay := events.NewRelay(db, bus, events.RelayOptions{BatchSize: 10})
		if n, _ := relay.Pending(ctx); n != 25 {
			t.Fatalf("Pending = %d; want 25", n)
		}
		for _, wantN := range []int{10, 10, 5, 0} {
			n, err := relay.PublishPending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN {
				t.Fatalf("PublishPending published %d; want %d", n, wantN)
			}
		}
		if n, _ := relay.Pending(ctx); n != 0 {
			t.Fatalf("Pending after relay = %d; want 0", n)
		}
		if got := count(t, db, `SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL AND attempts = 1 AND claimed_by IS NULL`); got != 25 {
			t.Fatalf("rows marked published once = %d; want 25", got)
		}

		c := newCollector()
		stop, err := bus.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "ledger"}, c.handle)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		c.wait(t, 25)
		got := c.events()
		for i := range want {
			w, g := want[i], got[i]
			if g.ID != w.ID || g.Type != w.Type || g.Source != w.Source || g.Subject != w.Subject ||
				!g.Time.Equal(w.Time) || g.DataContentType != w.DataContentType || string(g.Data) != string(w.Data) {
				t.Fatalf("event %d = %+v; want %+v (in enqueue order)", i, g, w)
			}
			c.mu.Lock()
			sc := trace.SpanContextFromContext(c.ctxs[i])
			c.mu.Unlock()
			if sc.TraceID() != span.SpanContext().TraceID() {
				t.Fatalf("event %d trace id %s; want the enqueuing request's %s", i, sc.TraceID(), span.SpanContext().TraceID())
			}
		}
	})
}

func TestEnqueueIsPartOfTheTransaction(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		ev := mustEvent(t, "t", "x")
		errBoom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := events.Enqueue(ctx, tx, "tamkeen.payment.succeeded", ev); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx err = %v; want boom", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox`); n != 0 {
			t.Fatalf("outbox rows after rollback = %d; want 0", n)
		}

		noID := ev
		noID.ID = ""
		tests := []struct {
			name    string
			subject string
			ev      events.Event
			want    error
		}{
			{"ok", "tamkeen.payment.succeeded", ev, nil},
			{"same id again", "tamkeen.payment.succeeded", ev, events.ErrDuplicateEvent},
			{"bad subject", "tamkeen.payment.*", mustEvent(t, "t", "y"), events.ErrInvalidSubject},
			{"bad event", "tamkeen.payment.succeeded", noID, events.ErrMalformed},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := db.InTx(ctx, func(tx *sql.Tx) error { return events.Enqueue(ctx, tx, tc.subject, tc.ev) })
				if !errors.Is(err, tc.want) {
					t.Fatalf("Enqueue err = %v; want %v", err, tc.want)
				}
			})
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox`); n != 1 {
			t.Fatalf("outbox rows = %d; want 1", n)
		}
	})
}

// Must show 1: NATS goes away between the state write and the publish; once
// it is back the event reaches a durable consumer exactly once.
func TestOutboxSurvivesNATSOutage(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		dir := t.TempDir()
		s1, err := natsembed.Start(natsembed.Options{Listen: true, Port: -1, StoreDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s1.Shutdown)
		port, url := s1.Port(), s1.ClientURL()
		connect := func() *nats.Conn {
			nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			return nc
		}
		bus, err := events.NewBus(connect(), events.BusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.EnsureStream(ctx, events.StreamConfig{Name: testStream, Subjects: paymentSubjects}); err != nil {
			t.Fatal(err)
		}
		consumerBus, _ := events.NewBus(connect(), events.BusOptions{})
		var mu sync.Mutex
		deliveries := map[string]int{}
		apply := applyToLedger(db)
		stop, err := consumerBus.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "ledger", AckWait: time.Second},
			func(ctx context.Context, ev events.Event) error {
				mu.Lock()
				deliveries[ev.ID]++
				mu.Unlock()
				_, err := apply(ctx, ev)
				return err
			})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		relay := fastRelay(db, bus)
		rctx, cancel := context.WithCancel(ctx)
		relayDone := make(chan error, 1)
		go func() { relayDone <- relay.Run(rctx) }()
		defer func() {
			cancel()
			if err := <-relayDone; err != nil {
				t.Errorf("relay Run = %v; want nil", err)
			}
		}()
		ledger := func() int { return count(t, db, `SELECT COUNT(*) FROM ledger`) }

		before := succeed(ctx, t, db, "pay_before")
		relay.Kick()
		eventually(t, "the first event to be applied", func() bool { return ledger() == 1 })

		s1.Shutdown() // NATS is gone
		during := succeed(ctx, t, db, "pay_during")
		relay.Kick()
		eventually(t, "the relay to fail at least once", func() bool {
			return count(t, db, `SELECT COUNT(*) FROM outbox WHERE id = $1 AND attempts >= 1 AND published_at IS NULL`, during.ID) == 1
		})

		s2 := natstest.Start(t, natsembed.Options{Listen: true, Port: port, StoreDir: dir})
		if s2.Port() != port {
			t.Fatalf("restarted on port %d; want %d", s2.Port(), port)
		}
		eventually(t, "the event from the outage to be applied", func() bool { return ledger() == 2 })
		time.Sleep(1500 * time.Millisecond) // past AckWait: room for any duplicate

		if n, _ := relay.Pending(ctx); n != 0 {
			t.Fatalf("Pending = %d; want 0", n)
		}
		if got := streamMsgs(t, bus, testStream); got != 2 {
			t.Fatalf("stream holds %d messages; want 2", got)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range []events.Event{before, during} {
			if deliveries[ev.ID] != 1 {
				t.Errorf("event %s delivered %d times; want 1", ev.Subject, deliveries[ev.ID])
			}
			if n := count(t, db, `SELECT COUNT(*) FROM ledger WHERE event_id = $1`, ev.ID); n != 1 {
				t.Errorf("event %s applied %d times; want 1", ev.Subject, n)
			}
		}
	})
}

// Must show 2: a consumer that dies mid-handling gets the event again (on a
// new consumer with the same durable name, or on redelivery) and, through
// ProcessOnce, applies it exactly once.
func TestConsumerDiesMidHandling(t *testing.T) {
	tests := []struct {
		name string
		// first is the dying consumer's behaviour; it gets the applier, and
		// kill closes its connection (the process is gone).
		first func(ctx context.Context, ev events.Event, apply func(context.Context, events.Event) (bool, error), kill func()) error
		// newConsumer: the second delivery goes to a fresh consumer on a
		// new connection; otherwise to the same (the error is redelivered).
		newConsumer bool
	}{
		{
			name: "dies after commit before ack",
			first: func(ctx context.Context, ev events.Event, apply func(context.Context, events.Event) (bool, error), kill func()) error {
				if _, err := apply(ctx, ev); err != nil {
					return err
				}
				kill()
				return nil // the ack goes nowhere
			},
			newConsumer: true,
		},
		{
			name: "dies before commit",
			first: func(ctx context.Context, ev events.Event, _ func(context.Context, events.Event) (bool, error), kill func()) error {
				kill()
				return errors.New("process stopped")
			},
			newConsumer: true,
		},
		{
			name: "handler fails halfway and returns an error",
			first: func(ctx context.Context, ev events.Event, _ func(context.Context, events.Event) (bool, error), kill func()) error {
				return errors.New("ledger write failed")
			},
		},
	}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		s := natstest.Start(t, natsembed.Options{})
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := testCtx(t)
				bus, _ := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
				stream := fmt.Sprintf("S%d", i)
				subject := fmt.Sprintf("tamkeen.s%d.succeeded", i)
				if err := bus.EnsureStream(ctx, events.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
					t.Fatal(err)
				}
				ev := mustEvent(t, "t", "pay_"+stream)
				if err := db.InTx(ctx, func(tx *sql.Tx) error { return events.Enqueue(ctx, tx, subject, ev) }); err != nil {
					t.Fatal(err)
				}
				if _, err := events.NewRelay(db, bus, events.RelayOptions{}).PublishPending(ctx); err != nil {
					t.Fatal(err)
				}

				apply := applyToLedger(db)
				cfg := events.ConsumerConfig{Stream: stream, Durable: "ledger", AckWait: 500 * time.Millisecond,
					Backoff: []time.Duration{20 * time.Millisecond}}
				type outcome struct {
					applied bool
					err     error
				}
				results := make(chan outcome, 10)
				var calls atomic.Int32

				ncA, err := s.Connect()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(ncA.Close)
				busA, _ := events.NewBus(ncA, events.BusOptions{})
				handler := func(ctx context.Context, ev events.Event) error {
					if calls.Add(1) == 1 {
						err := tc.first(ctx, ev, apply, ncA.Close)
						results <- outcome{err: err}
						return err
					}
					applied, err := apply(ctx, ev)
					results <- outcome{applied: applied, err: err}
					return err
				}
				stopA, err := busA.Consume(ctx, cfg, handler)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.newConsumer {
					defer stopA()
				}
				<-results // first delivery handled (and the process maybe dead)

				if tc.newConsumer {
					// A new replica with the same durable name takes over.
					busB, _ := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
					stopB, err := busB.Consume(ctx, cfg, handler)
					if err != nil {
						t.Fatal(err)
					}
					defer stopB()
				}
				select {
				case r := <-results:
					if r.err != nil {
						t.Fatalf("second delivery: %v", r.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("event was not redelivered")
				}
				time.Sleep(700 * time.Millisecond) // past AckWait: room for more deliveries
				if n := count(t, db, `SELECT COUNT(*) FROM ledger WHERE event_id = $1`, ev.ID); n != 1 {
					t.Fatalf("ledger rows for the event = %d; want exactly 1", n)
				}
				if n := count(t, db, `SELECT COUNT(*) FROM processed_events WHERE consumer = 'ledger' AND event_id = $1`, ev.ID); n != 1 {
					t.Fatalf("processed_events rows = %d; want 1", n)
				}
				if got := calls.Load(); got != 2 {
					t.Fatalf("handler ran %d times; want 2 (first attempt, then one redelivery)", got)
				}
			})
		}
	})
}

// twinDBs runs fn on each engine with two handles on one database, like two
// replicas of a service.
func twinDBs(t *testing.T, fn func(t *testing.T, a, b *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "svc.db")
		fn(t, storetest.SQLiteFile(t, path), storetest.SQLiteFile(t, path))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresDatabase(t)
		fn(t, storetest.PostgresDB(t, dsn), storetest.PostgresDB(t, dsn))
	})
}

// Must show 3: two relays on one database publish every event exactly once,
// by claiming and not merely by JetStream's de-duplication.
func TestConcurrentRelaysPublishEachEventOnce(t *testing.T) {
	const total = 200
	twinDBs(t, func(t *testing.T, dbA, dbB *store.DB) {
		migrate(t, dbA)
		ctx := testCtx(t)
		s := natstest.Start(t, natsembed.Options{})
		busA, _ := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
		busB, _ := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
		if err := busA.EnsureStream(ctx, events.StreamConfig{Name: testStream, Subjects: paymentSubjects}); err != nil {
			t.Fatal(err)
		}
		// Every publish attempt, including ones JetStream would drop as
		// duplicates, is seen by a plain subscriber.
		var raw atomic.Int32
		spy := natstest.Connect(t, s)
		if _, err := spy.Subscribe("tamkeen.payment.>", func(*nats.Msg) { raw.Add(1) }); err != nil {
			t.Fatal(err)
		}
		if err := spy.Flush(); err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		deliveries := map[string]int{}
		stop, err := busA.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "audit"}, func(ctx context.Context, ev events.Event) error {
			mu.Lock()
			deliveries[ev.ID]++
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()

		relays := []*events.Relay{fastRelay(dbA, busA), fastRelay(dbB, busB)}
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, r := range relays {
			wg.Add(1)
			go func() { defer wg.Done(); _ = r.Run(rctx) }()
		}
		// Half the events are waiting when the relays start; the rest arrive
		// while they run, through both replicas' databases.
		for i := 0; i < total; i++ {
			db := dbA
			if i%2 == 1 {
				db = dbB
			}
			succeed(ctx, t, db, fmt.Sprintf("pay_%03d", i))
			if i >= total/2 {
				relays[i%2].Kick()
			}
		}
		eventually(t, "all events delivered", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(deliveries) == total
		})
		cancel()
		wg.Wait()
		time.Sleep(200 * time.Millisecond)

		if got := streamMsgs(t, busA, testStream); got != total {
			t.Fatalf("stream holds %d messages; want %d", got, total)
		}
		if got := raw.Load(); got != total {
			t.Fatalf("relays published %d times; want %d (each event once)", got, total)
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range deliveries {
			if n != 1 {
				t.Fatalf("event %s delivered %d times; want 1", id, n)
			}
		}
		if n := count(t, dbA, `SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL AND attempts = 1`); n != total {
			t.Fatalf("rows published on the first attempt = %d; want %d", n, total)
		}
	})
}

func TestRelayReclaimsExpiredLease(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		bus, _ := newBus(t, events.BusOptions{})
		ev := succeed(ctx, t, db, "pay_1")
		// A relay claimed the row and died: its lease is still running.
		now := time.Now()
		if _, err := db.ExecContext(ctx, `UPDATE outbox SET claimed_by = 'dead', claimed_until = $1`, now.Add(time.Minute).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		clock := now
		relay := events.NewRelay(db, bus, events.RelayOptions{Now: func() time.Time { return clock }})
		if n, err := relay.PublishPending(ctx); err != nil || n != 0 {
			t.Fatalf("PublishPending under a live lease = %d, %v; want 0, nil", n, err)
		}
		clock = now.Add(2 * time.Minute)
		if n, err := relay.PublishPending(ctx); err != nil || n != 1 {
			t.Fatalf("PublishPending after the lease = %d, %v; want 1, nil", n, err)
		}
		var published time.Time
		if err := db.QueryRowContext(ctx, `SELECT published_at FROM outbox WHERE id = $1`, ev.ID).Scan(store.ScanTime(&published)); err != nil {
			t.Fatal(err)
		}
		if want := clock.UTC().Truncate(time.Microsecond); !published.Equal(want) {
			t.Fatalf("published_at = %v; want the injected clock's %v", published, want)
		}
	})
}

func TestProcessOnceConcurrent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		const workers = 16
		var applied atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		start := make(chan struct{})
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := events.ProcessOnce(ctx, db, "ledger", "evt_race", func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO ledger (event_id, payment_id) VALUES ('evt_race', 'pay_1')`)
					return err
				})
				if err != nil {
					errs <- err
				}
				if ok {
					applied.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("ProcessOnce: %v", err)
		}
		if got := applied.Load(); got != 1 {
			t.Fatalf("applied %d times; want 1", got)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM ledger`); n != 1 {
			t.Fatalf("ledger rows = %d; want 1", n)
		}

		// Other consumers keep their own record of the same event.
		ok, err := events.ProcessOnce(ctx, db, "receipts", "evt_race", func(*sql.Tx) error { return nil })
		if err != nil || !ok {
			t.Fatalf("other consumer ProcessOnce = %v, %v; want true, nil", ok, err)
		}
		// A failing fn records nothing.
		errBoom := errors.New("boom")
		ok, err = events.ProcessOnce(ctx, db, "ledger", "evt_fail", func(*sql.Tx) error { return errBoom })
		if ok || !errors.Is(err, errBoom) {
			t.Fatalf("failing ProcessOnce = %v, %v; want false, boom", ok, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM processed_events WHERE event_id = 'evt_fail'`); n != 0 {
			t.Fatalf("processed_events rows after failure = %d; want 0", n)
		}
		if _, err := events.ProcessOnce(ctx, db, "", "evt_x", func(*sql.Tx) error { return nil }); !errors.Is(err, events.ErrInvalidConfig) {
			t.Fatalf("empty consumer err = %v; want ErrInvalidConfig", err)
		}
	})
}

func TestPrune(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		bus, _ := newBus(t, events.BusOptions{})
		succeed(ctx, t, db, "pay_1")
		if _, err := events.NewRelay(db, bus, events.RelayOptions{}).PublishPending(ctx); err != nil {
			t.Fatal(err)
		}
		succeed(ctx, t, db, "pay_2") // unpublished: never pruned
		if _, err := events.ProcessOnce(ctx, db, "c", "evt_1", func(*sql.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Hour)
		tests := []struct {
			name string
			fn   func() (int64, error)
			want int64
		}{
			{"outbox before now-1h", func() (int64, error) { return events.PrunePublished(ctx, db, time.Now().Add(-time.Hour)) }, 0},
			{"outbox", func() (int64, error) { return events.PrunePublished(ctx, db, future) }, 1},
			{"processed", func() (int64, error) { return events.PruneProcessed(ctx, db, future) }, 1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n, err := tc.fn()
				if err != nil || n != tc.want {
					t.Fatalf("pruned %d, %v; want %d, nil", n, err, tc.want)
				}
			})
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`); n != 1 {
			t.Fatalf("unpublished rows = %d; want 1", n)
		}
	})
}

func BenchmarkEnqueueAndRelay(b *testing.B) {
	db := storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db"))
	migrate(b, db)
	bus, _ := newBus(b, events.BusOptions{})
	relay := events.NewRelay(db, bus, events.RelayOptions{BatchSize: 100})
	ctx := context.Background()
	f := events.Factory{Source: "tamkeen/payment"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := f.New("tamkeen.payment.succeeded.v1", wrapperspb.String("pay_bench"))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return events.Enqueue(ctx, tx, "tamkeen.payment.succeeded", ev) }); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			if _, err := relay.PublishPending(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for {
		n, err := relay.PublishPending(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
}

// TestRelayReclaimsOwnClaimsOnRestart: a relay killed after claiming a
// batch left it claimed for a long lease; the same instance, restarted,
// publishes it at once, while another instance leaves it alone until the
// lease ends (issue 16: an OTP late by seconds, not by a lease).
func TestRelayReclaimsOwnClaimsOnRestart(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		bus, _ := newBus(t, events.BusOptions{})
		succeed(ctx, t, db, "pay_1")
		succeed(ctx, t, db, "pay_2")
		until := time.Now().Add(time.Hour).UnixMilli()
		if _, err := db.ExecContext(ctx, `UPDATE outbox SET claimed_by = 'auth-0/5eed', claimed_until = $1`, until); err != nil {
			t.Fatal(err)
		}
		// "auth" is a prefix of "auth-0" but not the same instance.
		for _, other := range []string{"auth-1", "auth", ""} {
			r := events.NewRelay(db, bus, events.RelayOptions{Instance: other})
			if err := r.ReclaimOwn(ctx); err != nil {
				t.Fatal(err)
			}
			if n, err := r.PublishPending(ctx); err != nil || n != 0 {
				t.Fatalf("instance %q published %d, %v of auth-0's live claims; want 0", other, n, err)
			}
		}
		restarted := events.NewRelay(db, bus, events.RelayOptions{Instance: "auth-0", PollInterval: time.Hour})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- restarted.Run(rctx) }()
		eventually(t, "the restarted instance to publish its own claims", func() bool {
			return count(t, db, `SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL`) == 2
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL`); n != 0 {
			t.Fatalf("%d rows still claimed after publishing", n)
		}
	})
}

// held counts the unpublished rows a relay holds: claimed under a lease,
// or on PostgreSQL locked by a relay's open transaction.
func held(t testing.TB, db *store.DB) int {
	t.Helper()
	if db.Engine() == store.Postgres {
		return count(t, db, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`) -
			count(t, db, `SELECT COUNT(*) FROM (SELECT seq FROM outbox WHERE published_at IS NULL FOR UPDATE SKIP LOCKED) free`)
	}
	return count(t, db, `SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL`)
}

// TestRelayOnPostgresWritesEachRowOnce: on PostgreSQL the relay's claim is
// its transaction's row locks, so publishing writes each outbox row once
// (published) instead of twice (claimed, then published), and leaves no
// claim behind.
func TestRelayOnPostgresWritesEachRowOnce(t *testing.T) {
	db := storetest.PostgresDB(t, storetest.PostgresDatabase(t))
	migrate(t, db)
	ctx := testCtx(t)
	if _, err := db.ExecContext(ctx, `
		CREATE TABLE outbox_writes (seq BIGINT NOT NULL);
		CREATE FUNCTION count_outbox_write() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN INSERT INTO outbox_writes VALUES (NEW.seq); RETURN NEW; END $$;
		CREATE TRIGGER outbox_write AFTER UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION count_outbox_write();`); err != nil {
		t.Fatal(err)
	}
	bus, _ := newBus(t, events.BusOptions{})
	const total = 25
	for i := range total {
		succeed(ctx, t, db, fmt.Sprintf("pay_%02d", i))
	}
	relay := events.NewRelay(db, bus, events.RelayOptions{BatchSize: 10})
	published := 0
	for published < total {
		n, err := relay.PublishPending(ctx)
		if err != nil || n == 0 {
			t.Fatalf("PublishPending = %d, %v after %d of %d", n, err, published, total)
		}
		published += n
	}
	if got := streamMsgs(t, bus, testStream); got != total {
		t.Fatalf("stream holds %d messages; want %d", got, total)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM outbox_writes`); n != total {
		t.Fatalf("%d updates of outbox rows for %d events; want one each", n, total)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL AND attempts = 1 AND claimed_by IS NULL`); n != total {
		t.Fatalf("%d rows published once and unclaimed; want %d", n, total)
	}
}

// TestRelayRenewsLeaseWhilePublishing: while a batch waits for a broker
// that does not answer, the relay keeps renewing its short lease (on
// PostgreSQL: keeps the batch's rows locked), so a second relay does not
// take the batch over; once the first gives up and releases it, the batch
// is free again with the failed attempt counted.
func TestRelayRenewsLeaseWhilePublishing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := testCtx(t)
		s, err := natsembed.Start(natsembed.Options{Listen: true, Port: -1, StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		bus, err := events.NewBus(nc, events.BusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.EnsureStream(ctx, events.StreamConfig{Name: testStream, Subjects: paymentSubjects}); err != nil {
			t.Fatal(err)
		}
		succeed(ctx, t, db, "pay_1")
		s.Shutdown() // the broker stops answering: the publish waits for its PubAck
		const lease = time.Second
		slow := events.NewRelay(db, bus, events.RelayOptions{Lease: lease, PublishTimeout: 5 * lease})
		published := make(chan error, 1)
		go func() {
			_, err := slow.PublishPending(ctx)
			published <- err
		}()
		eventually(t, "the first relay to claim the row", func() bool { return held(t, db) == 1 })
		other := events.NewRelay(db, bus, events.RelayOptions{Lease: lease})
		deadline := time.Now().Add(3 * lease) // well past the first claim's own lease
		for time.Now().Before(deadline) {
			if n, err := other.PublishPending(ctx); n != 0 || err != nil {
				select {
				case e := <-published:
					t.Logf("first relay ended: %v", e)
				default:
				}
				t.Fatalf("a second relay took over a batch still being published: %d, %v", n, err)
			}
			time.Sleep(lease / 10)
		}
		select {
		case err := <-published:
			t.Fatalf("the publish ended (%v) while the broker was down", err)
		default:
		}
		if err := <-published; err == nil {
			t.Fatal("a publish to a stopped broker succeeded")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE claimed_by IS NULL AND published_at IS NULL AND attempts = 1`); n != 1 {
			t.Fatalf("after the failed publish: %d released rows with one attempt; want 1", n)
		}
	})
}

// BenchmarkRelayBatch relays batches of 1 and of 100 events already in the
// outbox, on both engines:
// the relay's own cost per event (claim, publish with PubAck, mark), the
// commit of the events not counted.
func BenchmarkRelayBatch(b *testing.B) {
	engines := map[string]func(b *testing.B) *store.DB{
		"sqlite":   func(b *testing.B) *store.DB { return storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db")) },
		"postgres": func(b *testing.B) *store.DB { return storetest.PostgresDB(b, storetest.PostgresDatabase(b)) },
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		// A busy service's relay is kicked after every commit and takes
		// what is there: a few rows, down to one.
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", engine, batch), func(b *testing.B) {
				db := engines[engine](b)
				migrate(b, db)
				benchRelay(b, db, batch)
			})
		}
	}
}

func benchRelay(b *testing.B, db *store.DB, batch int) {
	bus, _ := newBus(b, events.BusOptions{})
	relay := events.NewRelay(db, bus, events.RelayOptions{BatchSize: batch})
	ctx := context.Background()
	f := events.Factory{Source: "tamkeen/payment"}
	b.ReportAllocs()
	for i := 0; i < b.N; i += batch {
		b.StopTimer()
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for range batch {
				ev, err := f.New("tamkeen.payment.succeeded.v1", wrapperspb.String("pay_bench"))
				if err != nil {
					return err
				}
				if err := events.Enqueue(ctx, tx, "tamkeen.payment.succeeded", ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := relay.PublishPending(ctx); err != nil || n != batch {
			b.Fatalf("PublishPending = %d, %v", n, err)
		}
	}
}
