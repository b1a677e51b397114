package events_test

import (
	"context"
	"testing"
	"time"

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
