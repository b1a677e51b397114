package pause

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	t.Parallel()
	t.Run("elapses", func(t *testing.T) {
		if !For(context.Background(), time.Millisecond, nil) {
			t.Fatal("For = false after the wait; want true")
		}
	})
	t.Run("kicked", func(t *testing.T) {
		kick := make(chan struct{}, 1)
		kick <- struct{}{}
		if !For(context.Background(), time.Hour, kick) {
			t.Fatal("For = false after a kick; want true")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if For(ctx, time.Hour, nil) {
			t.Fatal("For = true with an ended context; want false")
		}
	})
}

func TestEveryRunsUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Millisecond, func(context.Context) {
			if calls.Add(1) == 3 {
				cancel()
			}
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if n := calls.Load(); n < 3 {
		t.Errorf("f ran %d times; want at least 3", n)
	}
}
