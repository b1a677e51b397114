package content

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestMetrics publishes two items at once and schedules a third with an
// expiry, runs the scheduler past both times, and reads the counters.
func TestMetrics(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		m := h.svc.metrics
		h.published("now-1")
		h.published("now-2")
		it := h.approved("later")
		publishAt, expireAt := h.clk.Now().Add(time.Hour), h.clk.Now().Add(2*time.Hour)
		h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, publishAt, expireAt, ""))
		if got := testutil.ToFloat64(m.publications.WithLabelValues(triggerNow)); got != 2 {
			t.Errorf("publications{trigger=now} = %v; want 2 (scheduling is not publishing)", got)
		}
		if got := testutil.ToFloat64(m.publications.WithLabelValues(triggerScheduled)); got != 0 {
			t.Errorf("publications{trigger=scheduled} before its time = %v; want 0", got)
		}

		h.clk.Advance(time.Hour)
		if n, err := h.svc.applyDue(ctx, h.clk.Now()); err != nil || n != 1 {
			t.Fatalf("applyDue at publish time = %d, %v; want 1", n, err)
		}
		if n, _ := h.svc.applyDue(ctx, h.clk.Now()); n != 0 {
			t.Fatalf("applyDue again = %d; want 0", n)
		}
		if got := testutil.ToFloat64(m.publications.WithLabelValues(triggerScheduled)); got != 1 {
			t.Errorf("publications{trigger=scheduled} = %v; want 1", got)
		}
		h.clk.Advance(time.Hour)
		if n, err := h.svc.applyDue(ctx, h.clk.Now()); err != nil || n != 1 {
			t.Fatalf("applyDue at expiry = %d, %v; want 1", n, err)
		}
		if got := testutil.ToFloat64(m.expiries); got != 1 {
			t.Errorf("expiries = %v; want 1", got)
		}
		if n := testutil.CollectAndCount(h.svc.Registry, "tamkeen_content_publications_total"); n != 2 {
			t.Errorf("publications series = %d; want 2 (now, scheduled)", n)
		}
	})
}
