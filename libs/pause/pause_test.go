package pause

import (
	"context"
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
