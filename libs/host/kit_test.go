package host_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func TestNewKitAppliesDefaultsOnce(t *testing.T) {
	t.Parallel()
	k := host.NewKit("echo", host.Env{}, events.RelayOptions{})
	if k.Logger == nil || k.Now == nil || k.Rand == nil {
		t.Fatalf("NewKit(empty env) left Logger %v, Now set %v, Rand %v; want every default", k.Logger, k.Now != nil, k.Rand)
	}
	if k.Relay != nil {
		t.Error("NewKit without a database and bus built a relay; want none")
	}
	if k.Events.Source != "tamkeen/echo" || k.Events.Now == nil || k.Events.Rand == nil {
		t.Errorf("event factory = %+v; want source tamkeen/echo with the kit's clock and randomness", k.Events)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	k = host.NewKit("echo", host.Env{Now: func() time.Time { return at }}, events.RelayOptions{})
	ev, err := k.Events.New("tamkeen.echo.said.v1", &emptypb.Empty{})
	if err != nil || !ev.Time.Equal(at) {
		t.Errorf("event time = %v, %v; want the injected clock's %v", ev.Time, err, at)
	}
}

func TestRunLoopsDeclaresTheStreamAndRelaysTheOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bus := outboxEnv(t)
	k := host.NewKit("echo", host.Env{DB: db, Bus: bus}, events.RelayOptions{PollInterval: 10 * time.Millisecond})
	ev, err := k.Events.New("tamkeen.echo.said.v1", &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *sql.Tx) error { return events.Enqueue(ctx, tx, "tamkeen.echo.said", ev) }); err != nil {
		t.Fatal(err)
	}
	svc := &echoService{ran: make(chan struct{}), stopped: make(chan struct{})}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- host.RunLoops(runCtx, k, events.StreamConfig{Name: "ECHO", Subjects: []string{"tamkeen.echo.>"}}, svc)
	}()
	<-svc.ran
	waitPublished(t, k.Relay, "RunLoops")
	st, err := bus.JetStream().Stream(ctx, "ECHO")
	if err != nil {
		t.Fatalf("stream ECHO: %v; want RunLoops to declare it", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream ECHO holds %d messages; want 1", info.State.Msgs)
	}
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Errorf("RunLoops after cancel = %v; want nil or canceled", err)
	}
	select {
	case <-svc.stopped:
	default:
		t.Error("the service's Run was not stopped")
	}
}

// TestCommitWakesTheRelay: an event enqueued through Kit.Commit is
// published at once by a relay that would otherwise poll only hourly, and
// a kit without a bus (administration) commits without a relay to wake.
func TestCommitWakesTheRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, bus := outboxEnv(t)
	if err := bus.EnsureStream(ctx, events.StreamConfig{Name: "ECHO", Subjects: []string{"tamkeen.echo.>"}}); err != nil {
		t.Fatal(err)
	}
	k := host.NewKit("echo", host.Env{DB: db, Bus: bus}, events.RelayOptions{PollInterval: time.Hour})
	enqueue := func(tx *sql.Tx) error {
		ev, err := k.Events.New("tamkeen.echo.said.v1", &emptypb.Empty{})
		if err != nil {
			return err
		}
		return events.Enqueue(ctx, tx, "tamkeen.echo.said", ev)
	}
	// The first event is there before the relay starts: its first pass
	// publishes it, after which it sleeps for the hour.
	if err := db.InTx(ctx, enqueue); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() { _ = k.Relay.Run(runCtx); close(stopped) }()
	waitPublished(t, k.Relay, "before Commit")
	if err := k.Commit(ctx, enqueue); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	waitPublished(t, k.Relay, "after Commit (the relay polls hourly: only a kick publishes it)")
	cancel() // so that nothing but a kick could publish what follows
	<-stopped

	admin := host.NewKit("echo", host.Env{DB: db}, events.RelayOptions{})
	if admin.Relay != nil {
		t.Fatal("a kit without a bus has a relay")
	}
	if err := admin.Commit(ctx, enqueue); err != nil {
		t.Fatalf("Commit without a relay: %v", err)
	}
	if n, err := k.Relay.Pending(ctx); err != nil || n != 1 {
		t.Errorf("after the admin kit's Commit the outbox holds %d (%v); want its event waiting", n, err)
	}
}

// outboxEnv is a SQLite database with the outbox's tables and a bus on an
// embedded NATS server.
func outboxEnv(t *testing.T) (*store.DB, *events.Bus) {
	t.Helper()
	db := storetest.SQLite(t)
	if err := db.Migrate(context.Background(), events.Migrations); err != nil {
		t.Fatal(err)
	}
	bus, err := events.NewBus(natstest.Connect(t, natstest.Start(t, natsembed.Options{})), events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return db, bus
}

// waitPublished waits up to 10 s for relay's outbox to be empty.
func waitPublished(t *testing.T, relay *events.Relay, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := relay.Pending(context.Background())
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the outbox still holds %d events (%v); want the relay to have published them", what, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
