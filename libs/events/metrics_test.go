package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func newMetrics(t testing.TB) (*prometheus.Registry, *events.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := events.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

// sample reads the series of family name whose labels include want from
// reg: a counter's or gauge's value, or a histogram's sample count. A
// series that does not exist reads 0.
func sample(t testing.TB, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func TestRelayMetrics(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		bus, _ := newBus(t, events.BusOptions{})
		reg, m := newMetrics(t)
		ctx := testCtx(t)
		payment := map[string]string{"service": "payment"}
		now := time.Now()
		clock := func() time.Time { return now }
		relay := events.NewRelay(db, bus, events.RelayOptions{BatchSize: 100, Metrics: m, Service: "payment", Now: clock})

		if got := sample(t, reg, events.MetricOutboxPending, payment); got != 0 {
			t.Errorf("pending before any event = %v; want 0", got)
		}
		const n = 7
		for i := range n {
			succeed(ctx, t, db, fmt.Sprintf("pay_%d", i))
		}
		now = now.Add(90 * time.Second) // the events waited a minute and a half
		if got := sample(t, reg, events.MetricOutboxPending, payment); got != n {
			t.Errorf("pending = %v; want %d", got, n)
		}
		if got := sample(t, reg, events.MetricOutboxOldestAge, payment); got < 89 || got > 91 {
			t.Errorf("oldest age = %v s; want 90 (the clock moved 90 s past the events)", got)
		}

		published, err := relay.PublishPending(ctx)
		if err != nil || published != n {
			t.Fatalf("PublishPending = %d, %v; want %d", published, err, n)
		}
		if got := sample(t, reg, events.MetricOutboxPending, payment); got != 0 {
			t.Errorf("pending after publishing = %v; want 0", got)
		}
		if got := sample(t, reg, events.MetricOutboxOldestAge, payment); got != 0 {
			t.Errorf("oldest age after publishing = %v; want 0", got)
		}
		if got := sample(t, reg, events.MetricOutboxPublished, payment); got != n {
			t.Errorf("%s = %v; want %d", events.MetricOutboxPublished, got, n)
		}
		if got := sample(t, reg, events.MetricOutboxPublishSeconds, payment); got != n {
			t.Errorf("%s count = %v; want %d", events.MetricOutboxPublishSeconds, got, n)
		}
		problems, err := testutil.GatherAndLint(reg)
		if err != nil || len(problems) > 0 {
			t.Errorf("promlint: %v %v", problems, err)
		}
	})
}

func TestRelayMetricsFailedPublish(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		bus, nc := newBus(t, events.BusOptions{})
		reg, m := newMetrics(t)
		ctx := testCtx(t)
		payment := map[string]string{"service": "payment"}
		relay := events.NewRelay(db, bus, events.RelayOptions{Metrics: m, Service: "payment", PublishTimeout: 200 * time.Millisecond})
		succeed(ctx, t, db, "pay_1")
		nc.Close()
		if _, err := relay.PublishPending(ctx); err == nil {
			t.Fatal("PublishPending on a closed connection succeeded")
		}
		if got := sample(t, reg, events.MetricOutboxPublishFailures, payment); got != 1 {
			t.Errorf("%s = %v; want 1", events.MetricOutboxPublishFailures, got)
		}
		if got := sample(t, reg, events.MetricOutboxPending, payment); got != 1 {
			t.Errorf("pending after the failure = %v; want 1", got)
		}
	})
}

// TestOutboxMetricsPerService: two services' relays on one registry (as
// in `tamkeen dev`) each report their own outbox.
func TestOutboxMetricsPerService(t *testing.T) {
	bus, _ := newBus(t, events.BusOptions{})
	reg, m := newMetrics(t)
	ctx := testCtx(t)
	dbs := map[string]*store.DB{}
	for _, svc := range []string{"payment", "content"} {
		db := storetest.SQLite(t)
		migrate(t, db)
		dbs[svc] = db
		events.NewRelay(db, bus, events.RelayOptions{Metrics: m, Service: svc})
	}
	succeed(ctx, t, dbs["payment"], "pay_1")
	succeed(ctx, t, dbs["payment"], "pay_2")
	succeed(ctx, t, dbs["content"], "pay_3")
	payment := map[string]string{"service": "payment"}
	if got := sample(t, reg, events.MetricOutboxPending, payment); got != 2 {
		t.Errorf("payment pending = %v; want 2", got)
	}
	if got := sample(t, reg, events.MetricOutboxPending, map[string]string{"service": "content"}); got != 1 {
		t.Errorf("content pending = %v; want 1", got)
	}
	// A second metrics set on the same registry reuses the collectors.
	if _, err := events.NewMetrics(reg); err != nil {
		t.Errorf("NewMetrics again on the same registry: %v", err)
	}
}

func TestConsumerMetrics(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	reg, m := newMetrics(t)
	b = b.WithMetrics(m, "notification")
	ctx := testCtx(t)
	for _, v := range []string{"ok", "retry-once", "permanent"} {
		if err := b.Publish(ctx, "tamkeen.payment.succeeded", mustEvent(t, "t", v)); err != nil {
			t.Fatal(err)
		}
	}
	// Not a CloudEvent: terminated before any handler.
	if _, err := b.JetStream().PublishMsg(ctx, &nats.Msg{Subject: "tamkeen.payment.succeeded", Data: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	var retried atomic.Bool
	stop, err := b.Consume(ctx, events.ConsumerConfig{
		Stream: testStream, Durable: "notification-receipts", Backoff: []time.Duration{20 * time.Millisecond},
	}, func(ctx context.Context, ev events.Event) error {
		var v wrapperspb.StringValue
		if err := ev.UnmarshalData(&v); err != nil {
			return events.Permanent(err)
		}
		switch v.GetValue() {
		case "retry-once":
			if !retried.Swap(true) {
				return errors.New("database busy")
			}
		case "permanent":
			return events.Permanent(errors.New("cannot decode"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	durable := map[string]string{"service": "notification", "durable": "notification-receipts"}
	handled := func(outcome string) float64 {
		return sample(t, reg, events.MetricConsumerHandled, map[string]string{
			"service": "notification", "durable": "notification-receipts", "outcome": outcome})
	}
	eventually(t, "every message settled", func() bool {
		return handled(events.OutcomeOK) == 2 && handled(events.OutcomeRetry) == 1 &&
			handled(events.OutcomePermanent) == 1 && handled(events.OutcomeMalformed) == 1
	})
	if got := sample(t, reg, events.MetricConsumerDeliveries, durable); got != 5 {
		t.Errorf("deliveries = %v; want 5 (4 messages, one of them twice)", got)
	}
	if got := sample(t, reg, events.MetricConsumerRedeliveries, durable); got != 1 {
		t.Errorf("redeliveries = %v; want 1", got)
	}
	if got := sample(t, reg, events.MetricConsumerHandlerSeconds, durable); got != 4 {
		t.Errorf("handling time samples = %v; want 4 (the malformed message reached no handler)", got)
	}
	if n := testutil.CollectAndCount(reg, events.MetricConsumerHandled); n != 4 {
		t.Errorf("%s has %d series; want 4 (one per outcome seen)", events.MetricConsumerHandled, n)
	}
}
