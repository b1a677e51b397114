package content

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// replicaDBs opens two handles on one fresh database, as two replicas of
// the service would have.
func replicaDBs(t *testing.T, engine store.Engine) (*store.DB, *store.DB) {
	if engine == store.SQLite {
		path := filepath.Join(t.TempDir(), "content.db")
		return storetest.SQLiteFile(t, path), storetest.SQLiteFile(t, path)
	}
	dsn := storetest.PostgresDatabase(t)
	return storetest.PostgresDB(t, dsn), storetest.PostgresDB(t, dsn)
}

// TestSchedulerTwoReplicas: an item scheduled for 10:00 and to expire at
// 11:00 appears at 10:00 and disappears at 11:00, with two scheduler
// replicas ticking at the same moments; each step happens once (one
// transition, one event), and a replica started after the fact (a
// restart) catches up with what came due while nothing ran.
func TestSchedulerTwoReplicas(t *testing.T) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			dbA, dbB := replicaDBs(t, engine)
			h := newHarness(t, dbA, nil)
			// The second replica's lease is short so that, in the second half,
			// both work at once as if a lease had lapsed mid-tick.
			b := newHarnessOn(t, dbB, h.bus, h.clk, nil)
			ctx := context.Background()

			it := h.approved("scheduled")
			publishAt, expireAt := h.clk.Now().Add(time.Hour), h.clk.Now().Add(2*time.Hour)
			got := h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, publishAt, expireAt, ""))
			if got.State != StateApproved || !got.PublishAt.Equal(publishAt) || got.PublishedVersion != 0 {
				t.Fatalf("scheduled item = %s at %s v%d; want approved, scheduled, not live", got.State, got.PublishAt, got.PublishedVersion)
			}
			tickBoth := func() int {
				var wg sync.WaitGroup
				var n [2]int
				for i, r := range []*harness{h, b} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						c, err := r.svc.SchedulerTick(ctx)
						if err != nil {
							t.Errorf("tick: %v", err)
						}
						n[i] = c
					}()
				}
				wg.Wait()
				return n[0] + n[1]
			}
			public := func() error { _, err := h.svc.GetPublicContent(ctx, "scheduled", "en"); return err }

			h.clk.Advance(59 * time.Minute)
			if n := tickBoth(); n != 0 || public() == nil {
				t.Fatalf("a minute early: %d changes, public err %v; want nothing yet", n, public())
			}
			h.clk.Advance(time.Minute)
			if n := tickBoth(); n != 1 {
				t.Errorf("at publish time: %d changes; want exactly 1", n)
			}
			tickBoth()
			if err := public(); err != nil {
				t.Fatalf("after its publish time the item is not public: %v", err)
			}
			pc, _ := h.svc.GetPublicContent(ctx, "scheduled", "en")
			if !pc.PublishTime.Equal(publishAt) {
				t.Errorf("public publish_time = %s; want the scheduled %s", pc.PublishTime, publishAt)
			}

			// Both replicas now work at once, as when a lease lapses.
			h.db.ExecContext(ctx, `DELETE FROM content_leases`)
			h.clk.Advance(time.Hour)
			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for _, r := range []*harness{h, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := r.svc.applyDue(ctx, h.clk.Now())
					if err != nil {
						t.Errorf("applyDue: %v", err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}()
			}
			wg.Wait()
			if total != 1 {
				t.Errorf("expiry applied %d times by two replicas at once; want 1", total)
			}
			wantErr(t, public(), rpcerr.ErrNotFound)
			for _, c := range []struct {
				q    string
				want int
			}{
				{`SELECT COUNT(*) FROM content_transitions WHERE item_id = $1 AND action = 'publish'`, 1},
				{`SELECT COUNT(*) FROM content_transitions WHERE item_id = $1 AND action = 'expire'`, 1},
				{`SELECT COUNT(*) FROM outbox WHERE ce_subject = $1 AND subject = 'tamkeen.content.published'`, 1},
				{`SELECT COUNT(*) FROM outbox WHERE ce_subject = $1 AND subject = 'tamkeen.content.unpublished'`, 1},
			} {
				if n := h.count(c.q, it.ID); n != c.want {
					t.Errorf("%s = %d; want %d", c.q, n, c.want)
				}
			}
			if after := h.must(h.svc.GetItem(ctx, as(editor), it.ID)); after.State != StateUnpublished || after.PublishedVersion != 0 {
				t.Errorf("after expiry: %s v%d; want unpublished, not live", after.State, after.PublishedVersion)
			}

			// A restart catches up: schedule, let the time pass with no
			// scheduler running, then start a new replica.
			it2 := h.approved("catch-up")
			h.must(h.svc.PublishItem(ctx, as(publisher), it2.ID, h.clk.Now().Add(time.Minute), time.Time{}, ""))
			h.clk.Advance(time.Hour)
			h.db.ExecContext(ctx, `DELETE FROM content_leases`)
			restarted := newHarnessOn(t, dbB, h.bus, h.clk, nil)
			if n, err := restarted.svc.SchedulerTick(ctx); err != nil || n != 1 {
				t.Fatalf("restarted replica's first tick = %d, %v; want the overdue publication", n, err)
			}
			if _, err := h.svc.GetPublicContent(ctx, "catch-up", "ar"); err != nil {
				t.Errorf("overdue item not public after the restart: %v", err)
			}
		})
	}
}

// TestSchedulerLease: while one replica holds the lease, another's tick
// does nothing; when the lease runs out, the other takes over.
func TestSchedulerLease(t *testing.T) {
	dbA, dbB := replicaDBs(t, store.SQLite)
	h := newHarness(t, dbA, nil)
	b := newHarnessOn(t, dbB, h.bus, h.clk, nil)
	ctx := context.Background()
	it := h.approved("lease")
	h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, h.clk.Now().Add(time.Minute), time.Time{}, ""))
	if n, err := h.svc.SchedulerTick(ctx); n != 0 || err != nil {
		t.Fatalf("A's first tick = %d, %v", n, err)
	}
	h.clk.Advance(2 * time.Minute) // past the lease: B may take it
	if n, err := b.svc.SchedulerTick(ctx); n != 1 || err != nil {
		t.Fatalf("B's tick after A's lease ran out = %d, %v; want the publication", n, err)
	}
	it2 := h.approved("lease-2")
	h.must(h.svc.PublishItem(ctx, as(publisher), it2.ID, h.clk.Now().Add(time.Second), time.Time{}, ""))
	h.clk.Advance(5 * time.Second)
	if n, err := h.svc.SchedulerTick(ctx); n != 0 || err != nil {
		t.Fatalf("A's tick while B holds the lease = %d, %v; want nothing", n, err)
	}
	if n, err := b.svc.SchedulerTick(ctx); n != 1 || err != nil {
		t.Fatalf("B's renewed tick = %d, %v; want the publication", n, err)
	}
}

// TestSaveCancelsSchedule: a new version after scheduling cancels the
// schedule, so an unreviewed version is never published by the clock.
func TestSaveCancelsSchedule(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	it := h.approved("cancelled")
	it = h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, h.clk.Now().Add(time.Minute), time.Time{}, ""))
	it = h.must(h.svc.SaveDraft(ctx, as(author), it.ID, it.Version, it.Content))
	if !it.PublishAt.IsZero() {
		t.Fatalf("schedule kept after a new draft: %s", it.PublishAt)
	}
	h.clk.Advance(time.Hour)
	if n, _ := h.svc.SchedulerTick(ctx); n != 0 {
		t.Errorf("scheduler changed %d items; want none", n)
	}
	_, err := h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, h.clk.Now().Add(-time.Minute), "")
	wantField(t, err, "expire_time")
}
