package clocktest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

func TestStandsStillUntilMoved(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := clocktest.New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v; want %v", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: Now() = %v; want %v", got, want)
	}
	later := start.Add(24 * time.Hour)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Fatalf("after Set: Now() = %v; want %v", got, later)
	}
}

func TestLiveFollowsRealTimePlusOffset(t *testing.T) {
	t.Parallel()
	c := clocktest.NewLive()
	c.Advance(time.Hour)
	before := time.Now().Add(time.Hour)
	got := c.Now()
	after := time.Now().Add(time.Hour)
	if got.Before(before) || got.After(after) {
		t.Fatalf("Now() = %v; want between %v and %v", got, before, after)
	}
	c.Freeze()
	frozen := c.Now()
	time.Sleep(2 * time.Millisecond)
	if got := c.Now(); !got.Equal(frozen) {
		t.Fatalf("after Freeze: Now() = %v; want %v", got, frozen)
	}
	c.Advance(time.Minute)
	if got, want := c.Now(), frozen.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("after Freeze and Advance: Now() = %v; want %v", got, want)
	}
}

func TestSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	c := clocktest.New(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), time.Unix(800, 0); !got.Equal(want) {
		t.Fatalf("Now() = %v; want %v", got, want)
	}
}
