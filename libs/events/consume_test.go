package events_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
)

// TestConsumeWhenReadyWaitsForTheStream: a consumer of a stream that
// another service has not declared yet keeps trying and gets the event
// once the stream exists; it returns nil when its context ends.
func TestConsumeWhenReadyWaitsForTheStream(t *testing.T) {
	s := natstest.Start(t, natsembed.Options{})
	b, err := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	got := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeWhenReady(ctx, events.ConsumerConfig{Stream: testStream, Durable: "late"}, func(_ context.Context, ev events.Event) error {
			got <- ev.ID
			return nil
		}, nil)
	}()
	time.Sleep(300 * time.Millisecond) // the first attempt fails: no stream
	if err := b.EnsureStream(testCtx(t), events.StreamConfig{Name: testStream, Subjects: paymentSubjects}); err != nil {
		t.Fatal(err)
	}
	ev := mustEvent(t, "tamkeen.payment.succeeded.v1", "pay_1")
	if err := b.Publish(testCtx(t), "tamkeen.payment.succeeded", ev); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != ev.ID {
			t.Fatalf("got event %s; want %s", id, ev.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the late stream's event never reached the consumer")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ConsumeWhenReady after cancel = %v; want nil", err)
	}
}

// TestConsumeEvent: ConsumeEvent hands the handler the decoded data of
// the named event of another enabler's stream, skips an event of another
// type on the same subject and never hands over data that does not decode.
func TestConsumeEvent(t *testing.T) {
	s := natstest.Start(t, natsembed.Options{})
	b, err := events.NewBus(natstest.Connect(t, s), events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureStream(testCtx(t), events.ServiceStream("payment", 1)); err != nil {
		t.Fatal(err)
	}
	malformed := mustEvent(t, "tamkeen.payment.succeeded.v1", "pay_0")
	malformed.Data = []byte{0xff, 0xff}
	for _, ev := range []events.Event{
		malformed,
		mustEvent(t, "tamkeen.payment.succeeded.v2", "pay_other_type"),
		mustEvent(t, "tamkeen.payment.succeeded.v1", "pay_1"),
	} {
		if err := b.Publish(testCtx(t), events.Subject("payment", "succeeded"), ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	got := make(chan string, 3)
	done := make(chan error, 1)
	go func() {
		done <- events.ConsumeEvent(ctx, b, "payment", "succeeded", "typed", func(_ context.Context, _ events.Event, m *wrapperspb.StringValue) error {
			got <- m.GetValue()
			return nil
		}, nil)
	}()
	select {
	case v := <-got:
		if v != "pay_1" {
			t.Fatalf("handler got %q first; want pay_1 (the malformed and the other type skipped)", v)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the event never reached the handler")
	}
	select {
	case v := <-got:
		t.Fatalf("handler also got %q; want only pay_1", v)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ConsumeEvent after cancel = %v; want nil", err)
	}
}
