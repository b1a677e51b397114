package notification

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestDeliveryClaimedByOneReplica: replicas that read the same due row
// race to claim it and exactly one wins; a settled row is neither due nor
// claimable again.
func TestDeliveryClaimedByOneReplica(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := context.Background()
		now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
		n := Notification{ID: "ntf_1", ClientID: "moh", UpdatedAt: now}
		if err := insertCallback(ctx, db, "cbk_1", n, "https://moh.example.ps/status", []byte(`{"id":"ntf_1"}`)); err != nil {
			t.Fatal(err)
		}
		due, err := dueCallbacks(ctx, db, now)
		if err != nil || len(due) != 1 || due[0].id != "cbk_1" || due[0].client != "moh" || due[0].attempts != 0 {
			t.Fatalf("due callbacks = %+v, %v; want cbk_1 of moh, no attempts yet", due, err)
		}

		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := claimDelivery(ctx, db, "callbacks", due[0], now, now.Add(deliveryLease))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Fatalf("%d of 8 replicas claimed the row; want 1", got)
		}
		if again, err := dueCallbacks(ctx, db, now); err != nil || len(again) != 0 {
			t.Errorf("due callbacks while leased = %+v, %v; want none", again, err)
		}

		if err := settleDelivery(ctx, db, "callbacks", "cbk_1", deliveryFailed, 1, now); err != nil {
			t.Fatal(err)
		}
		if after, err := dueCallbacks(ctx, db, now.Add(time.Hour)); err != nil || len(after) != 0 {
			t.Errorf("due callbacks after the row failed = %+v, %v; want none", after, err)
		}
		stale := due[0]
		stale.attempts = 1
		if ok, err := claimDelivery(ctx, db, "callbacks", stale, now.Add(time.Hour), now.Add(2*time.Hour)); err != nil || ok {
			t.Errorf("claim of a failed row = %v, %v; want false", ok, err)
		}
	})
}

// TestDeliveryRetrySchedules: callbacks wait RetryBase doubling (capped
// at an hour) and give up at the tenth attempt; webhooks wait each of
// their back-off in turn and give up after the last.
func TestDeliveryRetrySchedules(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: Config{RetryBase: 10 * time.Minute}, backoff: []time.Duration{time.Minute, 5 * time.Minute}}
	for _, tc := range []struct {
		name  string
		queue outbound
		n     int
		wait  time.Duration
		again bool
	}{
		{"callback 1", s.callbackQueue(), 1, 10 * time.Minute, true},
		{"callback 2", s.callbackQueue(), 2, 20 * time.Minute, true},
		{"callback 3", s.callbackQueue(), 3, 40 * time.Minute, true},
		{"callback 4 capped", s.callbackQueue(), 4, time.Hour, true},
		{"callback 9", s.callbackQueue(), 9, time.Hour, true},
		{"callback 10 fails", s.callbackQueue(), 10, 0, false},
		{"webhook 1", s.webhookQueue(), 1, time.Minute, true},
		{"webhook 2", s.webhookQueue(), 2, 5 * time.Minute, true},
		{"webhook 3 fails", s.webhookQueue(), 3, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, again := tc.queue.retry(tc.n)
			if again != tc.again || (again && wait != tc.wait) {
				t.Errorf("retry(%d) = %v, %v; want %v, %v", tc.n, wait, again, tc.wait, tc.again)
			}
		})
	}
}
