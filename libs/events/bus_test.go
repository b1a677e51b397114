package events_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
)

const testStream = "PAYMENT"

var paymentSubjects = []string{"tamkeen.payment.>"}

// testCtx is a context that ends with the test or after 30 s.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newBus starts an in-process server and returns a Bus with the payment stream.
func newBus(t testing.TB, opts events.BusOptions) (*events.Bus, *nats.Conn) {
	t.Helper()
	s := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, s)
	b, err := events.NewBus(nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureStream(testCtx(t), events.StreamConfig{Name: testStream, Subjects: paymentSubjects}); err != nil {
		t.Fatal(err)
	}
	return b, nc
}

func mustEvent(t testing.TB, typ, value string) events.Event {
	t.Helper()
	ev, err := events.NewEvent("tamkeen/payment", typ, wrapperspb.String(value))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func streamMsgs(t testing.TB, b *events.Bus, stream string) uint64 {
	t.Helper()
	st, err := b.JetStream().Stream(testCtx(t), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// collector records the events a handler sees.
type collector struct {
	mu   sync.Mutex
	evs  []events.Event
	ctxs []context.Context
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) handle(ctx context.Context, ev events.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.ctxs = append(c.ctxs, ctx)
	c.mu.Unlock()
	c.ch <- struct{}{}
	return nil
}

func (c *collector) wait(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-c.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("handler saw %d events; want %d", i, n)
		}
	}
}

func (c *collector) events() []events.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]events.Event(nil), c.evs...)
}

func TestPublishWritesCloudEventsHeaders(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	ctx := testCtx(t)
	ev := mustEvent(t, "tamkeen.payment.succeeded.v1", "pay_1")
	ev.Subject = "pay_1"
	if err := b.Publish(ctx, "tamkeen.payment.succeeded", ev); err != nil {
		t.Fatal(err)
	}
	st, _ := b.JetStream().Stream(ctx, testStream)
	raw, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ header, want string }{
		{"ce-specversion", "1.0"},
		{"ce-id", ev.ID},
		{"ce-type", "tamkeen.payment.succeeded.v1"},
		{"ce-source", "tamkeen/payment"},
		{"ce-time", ev.Time.Format(time.RFC3339Nano)},
		{"ce-subject", "pay_1"},
		{"content-type", "application/protobuf"},
		{"Nats-Msg-Id", ev.ID},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			if got := raw.Header.Get(tc.header); got != tc.want {
				t.Fatalf("header %s = %q; want %q", tc.header, got, tc.want)
			}
		})
	}
	if _, err := time.Parse(time.RFC3339, raw.Header.Get("ce-time")); err != nil {
		t.Fatalf("ce-time not RFC 3339: %v", err)
	}
	if !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("event id %q; want evt_ prefix", ev.ID)
	}
	var got wrapperspb.StringValue
	back, err := events.FromMessage(raw.Header, raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalData(&got); err != nil {
		t.Fatal(err)
	}
	if got.GetValue() != "pay_1" {
		t.Fatalf("payload = %q; want pay_1", got.GetValue())
	}
}

func TestPublishSameEventTwiceIsStoredOnce(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	ctx := testCtx(t)
	ev := mustEvent(t, "tamkeen.payment.succeeded.v1", "x")
	for i := 0; i < 3; i++ {
		if err := b.Publish(ctx, "tamkeen.payment.succeeded", ev); err != nil {
			t.Fatalf("publish #%d: %v", i+1, err)
		}
	}
	if err := b.Publish(ctx, "tamkeen.payment.succeeded", mustEvent(t, "tamkeen.payment.succeeded.v1", "y")); err != nil {
		t.Fatal(err)
	}
	if got := streamMsgs(t, b, testStream); got != 2 {
		t.Fatalf("stream holds %d messages; want 2 (duplicates dropped)", got)
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	good := mustEvent(t, "tamkeen.payment.succeeded.v1", "x")
	noID := good
	noID.ID = ""
	noTime := good
	noTime.Time = time.Time{}
	tests := []struct {
		name    string
		subject string
		ev      events.Event
		want    error
	}{
		{"empty subject", "", good, events.ErrInvalidSubject},
		{"wildcard", "tamkeen.payment.*", good, events.ErrInvalidSubject},
		{"tail wildcard", "tamkeen.>", good, events.ErrInvalidSubject},
		{"empty token", "tamkeen..x", good, events.ErrInvalidSubject},
		{"space", "tamkeen.pay ment", good, events.ErrInvalidSubject},
		{"no id", "tamkeen.payment.x", noID, events.ErrMalformed},
		{"no time", "tamkeen.payment.x", noTime, events.ErrMalformed},
		{"empty event", "tamkeen.payment.x", events.Event{}, events.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(testCtx(t), tc.subject, tc.ev)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Publish err = %v; want %v", err, tc.want)
			}
		})
	}
	if got := streamMsgs(t, b, testStream); got != 0 {
		t.Fatalf("stream holds %d messages after rejected publishes; want 0", got)
	}
}

func TestTraceContextRoundTrip(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	tests := []struct {
		name string
		opts events.BusOptions
	}{
		{"no tracer provider", events.BusOptions{}},
		{"sdk tracer provider", events.BusOptions{TracerProvider: tp}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBus(t, tc.opts)
			ctx := testCtx(t)
			ctx, root := tp.Tracer("test").Start(ctx, "request")
			want := root.SpanContext().TraceID()
			if err := b.Publish(ctx, "tamkeen.payment.succeeded", mustEvent(t, "t", "x")); err != nil {
				t.Fatal(err)
			}
			root.End()

			c := newCollector()
			stop, err := b.Consume(testCtx(t), events.ConsumerConfig{Stream: testStream, Durable: "receipts"}, c.handle)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c.wait(t, 1)
			c.mu.Lock()
			got := trace.SpanContextFromContext(c.ctxs[0])
			c.mu.Unlock()
			if !got.IsValid() {
				t.Fatal("handler context carries no span context")
			}
			if got.TraceID() != want {
				t.Fatalf("handler trace id = %s; want %s", got.TraceID(), want)
			}
			if got.SpanID() == root.SpanContext().SpanID() && tc.opts.TracerProvider != nil {
				t.Fatal("consumer span id equals the root span id; want a child span")
			}
		})
	}
	var producer, consumer bool
	for _, s := range rec.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindProducer:
			producer = true
		case trace.SpanKindConsumer:
			consumer = true
		}
	}
	if !producer || !consumer {
		t.Fatalf("recorded producer span %v, consumer span %v; want both", producer, consumer)
	}
}

func TestConsumeTerminatesMalformedMessages(t *testing.T) {
	var logs bytes.Buffer
	b, nc := newBus(t, events.BusOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := testCtx(t)
	good := mustEvent(t, "t", "good")
	valid := func() nats.Header {
		return nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"evt_x"}, "ce-type": {"t"}, "ce-source": {"s"}, "ce-time": {"2026-01-02T03:04:05Z"}}
	}
	without := func(k string) nats.Header { h := valid(); h.Del(k); return h }
	with := func(k, v string) nats.Header { h := valid(); h.Set(k, v); return h }
	bad := []struct {
		name string
		h    nats.Header
	}{
		{"no headers", nil},
		{"no specversion", without("ce-specversion")},
		{"wrong specversion", with("ce-specversion", "0.3")},
		{"no id", without("ce-id")},
		{"no type", without("ce-type")},
		{"no source", without("ce-source")},
		{"no time", without("ce-time")},
		{"bad time", with("ce-time", "yesterday")},
	}
	js, _ := jetstream.New(nc)
	for _, tc := range bad {
		msg := &nats.Msg{Subject: "tamkeen.payment.raw", Header: tc.h, Data: []byte("\xff garbage")}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	if err := b.Publish(ctx, "tamkeen.payment.succeeded", good); err != nil {
		t.Fatal(err)
	}
	// A payload that does not decode is the handler's call: Permanent → terminated.
	undecodable := mustEvent(t, "t", "x")
	undecodable.Data = []byte{0xff, 0xff, 0xff}
	if err := b.Publish(ctx, "tamkeen.payment.succeeded", undecodable); err != nil {
		t.Fatal(err)
	}

	c := newCollector()
	var decodeFailures int
	var mu sync.Mutex
	handler := func(ctx context.Context, ev events.Event) error {
		var v wrapperspb.StringValue
		if err := ev.UnmarshalData(&v); err != nil {
			mu.Lock()
			decodeFailures++
			mu.Unlock()
			return events.Permanent(err)
		}
		return c.handle(ctx, ev)
	}
	stop, err := b.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "d", AckWait: time.Second, Backoff: []time.Duration{10 * time.Millisecond}}, handler)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c.wait(t, 1)
	// Wait past AckWait: terminated messages must not come back.
	time.Sleep(1500 * time.Millisecond)
	stop()
	if got := c.events(); len(got) != 1 || got[0].ID != good.ID {
		t.Fatalf("handler saw %v; want only %s", got, good.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	if decodeFailures != 1 {
		t.Fatalf("undecodable payload handled %d times; want 1 (terminated, not redelivered)", decodeFailures)
	}
	cons, _ := b.JetStream().Consumer(ctx, testStream, "d")
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumRedelivered != 0 || info.NumPending != 0 {
		t.Fatalf("consumer ack pending %d, redelivered %d, pending %d; want 0, 0, 0", info.NumAckPending, info.NumRedelivered, info.NumPending)
	}
	if n := strings.Count(logs.String(), "terminating malformed message"); n != len(bad) {
		t.Fatalf("logged %d malformed messages; want %d\n%s", n, len(bad), logs.String())
	}
	if strings.Contains(logs.String(), "garbage") {
		t.Fatal("log contains the message payload")
	}
}

func TestConsumeRedeliversAfterHandlerError(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(attempt int) error // error for the attempt, nil = succeed
		wantCalls int
	}{
		{"error then success", func(a int) error {
			if a == 1 {
				return errors.New("db down")
			}
			return nil
		}, 2},
		{"panic then success", func(a int) error {
			if a == 1 {
				panic("boom")
			}
			return nil
		}, 2},
		{"permanent", func(int) error { return events.Permanent(errors.New("bad")) }, 1},
		{"always failing stops at MaxDeliver", func(int) error { return errors.New("still down") }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBus(t, events.BusOptions{})
			ctx := testCtx(t)
			if err := b.Publish(ctx, "tamkeen.payment.succeeded", mustEvent(t, "t", "x")); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			calls := 0
			settled := make(chan struct{}, 10)
			stop, err := b.Consume(ctx, events.ConsumerConfig{
				Stream: testStream, Durable: "d", MaxDeliver: 3,
				Backoff: []time.Duration{20 * time.Millisecond},
			}, func(ctx context.Context, ev events.Event) error {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				settled <- struct{}{}
				return tc.fail(n)
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.wantCalls; i++ {
				select {
				case <-settled:
				case <-time.After(10 * time.Second):
					t.Fatalf("handler called %d times; want %d", i, tc.wantCalls)
				}
			}
			time.Sleep(200 * time.Millisecond) // room for an unwanted redelivery
			stop()
			mu.Lock()
			defer mu.Unlock()
			if calls != tc.wantCalls {
				t.Fatalf("handler called %d times; want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestConsumeStopsWithContext(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	ctx, cancel := context.WithCancel(testCtx(t))
	c := newCollector()
	stop, err := b.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "d"}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.Publish(testCtx(t), "tamkeen.payment.a", mustEvent(t, "t", "1")); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 1)
	cancel()
	time.Sleep(100 * time.Millisecond)
	if err := b.Publish(testCtx(t), "tamkeen.payment.a", mustEvent(t, "t", "2")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(c.events()); got != 1 {
		t.Fatalf("handler saw %d events after ctx cancel; want 1", got)
	}
}

func TestConsumeFilterSubjects(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	ctx := testCtx(t)
	for _, s := range []string{"tamkeen.payment.succeeded", "tamkeen.payment.failed", "tamkeen.payment.refunded"} {
		if err := b.Publish(ctx, s, mustEvent(t, s, s)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		filters []string
		want    int
	}{
		{"all", nil, 3},
		{"one", []string{"tamkeen.payment.succeeded"}, 1},
		{"two", []string{"tamkeen.payment.succeeded", "tamkeen.payment.refunded"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector()
			stop, err := b.Consume(ctx, events.ConsumerConfig{Stream: testStream, Durable: "f" + tc.name, FilterSubjects: tc.filters}, c.handle)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			c.wait(t, tc.want)
			time.Sleep(100 * time.Millisecond)
			if got := len(c.events()); got != tc.want {
				t.Fatalf("saw %d events; want %d", got, tc.want)
			}
		})
	}
}

func TestEnsureStream(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	ctx := testCtx(t)
	tests := []struct {
		name    string
		cfg     events.StreamConfig
		wantErr error
	}{
		{"work queue with short max age", events.StreamConfig{Name: "NOTIFY_CMD", Subjects: []string{"tamkeen.notification.cmd.>"}, Retention: jetstream.WorkQueuePolicy, MaxAge: 5 * time.Minute, Duplicates: time.Minute}, nil},
		{"update same stream", events.StreamConfig{Name: "NOTIFY_CMD", Subjects: []string{"tamkeen.notification.cmd.>"}, Retention: jetstream.WorkQueuePolicy, MaxAge: 10 * time.Minute, Duplicates: time.Minute}, nil},
		{"memory", events.StreamConfig{Name: "MEM", Subjects: []string{"tamkeen.mem.>"}, Storage: jetstream.MemoryStorage}, nil},
		{"no name", events.StreamConfig{Subjects: []string{"x.>"}}, events.ErrInvalidConfig},
		{"no subjects", events.StreamConfig{Name: "X"}, events.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.EnsureStream(ctx, tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("EnsureStream err = %v; want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			st, err := b.JetStream().Stream(ctx, tc.cfg.Name)
			if err != nil {
				t.Fatal(err)
			}
			info, _ := st.Info(ctx)
			if info.Config.MaxAge != tc.cfg.MaxAge || info.Config.Retention != tc.cfg.Retention || info.Config.Storage != tc.cfg.Storage {
				t.Fatalf("stream config max age %v retention %v storage %v; want %v %v %v",
					info.Config.MaxAge, info.Config.Retention, info.Config.Storage, tc.cfg.MaxAge, tc.cfg.Retention, tc.cfg.Storage)
			}
		})
	}
}

func TestConsumeRejectsBadConfig(t *testing.T) {
	b, _ := newBus(t, events.BusOptions{})
	h := func(context.Context, events.Event) error { return nil }
	tests := []struct {
		name string
		cfg  events.ConsumerConfig
		h    events.Handler
	}{
		{"no stream", events.ConsumerConfig{Durable: "d"}, h},
		{"no durable", events.ConsumerConfig{Stream: testStream}, h},
		{"no handler", events.ConsumerConfig{Stream: testStream, Durable: "d"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.Consume(testCtx(t), tc.cfg, tc.h); !errors.Is(err, events.ErrInvalidConfig) {
				t.Fatalf("err = %v; want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := events.NewBus(nil, events.BusOptions{}); !errors.Is(err, events.ErrInvalidConfig) {
		t.Fatalf("NewBus(nil) err = %v; want ErrInvalidConfig", err)
	}
}

func BenchmarkPublish(b *testing.B) {
	bus, _ := newBus(b, events.BusOptions{})
	ctx := context.Background()
	f := events.Factory{Source: "tamkeen/payment"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, _ := f.New("tamkeen.payment.succeeded.v1", wrapperspb.String("pay_bench"))
		if err := bus.Publish(ctx, "tamkeen.payment.succeeded", ev); err != nil {
			b.Fatal(err)
		}
	}
}

func TestServiceStream(t *testing.T) {
	t.Parallel()
	got := events.ServiceStream("payment", 3)
	if got.Name != "PAYMENT" || len(got.Subjects) != 1 || got.Subjects[0] != "tamkeen.payment.>" || got.Replicas != 3 {
		t.Errorf("ServiceStream(payment, 3) = %+v; want PAYMENT on tamkeen.payment.> with 3 replicas", got)
	}
}
