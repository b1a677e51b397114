package sandbox

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// receiver counts the deliveries of each webhook.
type receiver struct {
	mu    sync.Mutex
	got   map[string]int
	total int
}

func (r *receiver) deliver(_ context.Context, payload []byte, _ string) error {
	n, err := DecodeWebhook(payload)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[n.ID]++
	r.total++
	return nil
}

// newDeliveryAcquirer is an acquirer on db with a movable clock, sending
// to a counting receiver, with n paid charges whose webhooks are not sent
// yet.
func newDeliveryAcquirer(t *testing.T, db *store.DB, n int) (*Acquirer, *clocktest.Clock, *receiver, []string) {
	t.Helper()
	set, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Migrate(ctx, set); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	rcv := &receiver{got: map[string]int{}}
	a, err := New(db, Config{Secret: []byte("0123456789abcdef0123"), Now: clk.Now, Deliver: rcv.deliver})
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]string, n)
	for i := range refs {
		ch, err := a.CreateCharge(ctx, provider.ChargeRequest{PaymentID: "pay_" + strconv.Itoa(i), Amount: 100, Currency: "ILS",
			ReturnURL: "https://m.example/r", ExpireAt: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.settle(ctx, ch.Ref, provider.StatusOpen, provider.StatusSucceeded, provider.ChargeSucceeded, "", "4242"); err != nil {
			t.Fatal(err)
		}
		refs[i] = ch.Ref
	}
	return a, clk, rcv, refs
}

// TestSweepAndCheckoutsNeverSendTwice: four sweeps and four checkouts
// deliver the same 40 due webhooks at once; the claims give each webhook
// to one of them, so each is sent exactly once.
func TestSweepAndCheckoutsNeverSendTwice(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		const charges = 40
		a, clk, rcv, refs := newDeliveryAcquirer(t, db, charges)
		ctx := context.Background()
		// Fresh webhooks belong to the requests that made them.
		if n, err := a.DeliverDue(ctx); n != 0 || err != nil || rcv.total != 0 {
			t.Fatalf("sweep of fresh webhooks = %d, %v; want 0, nil", n, err)
		}
		// Past SweepAfter, the sweep may take them too: both race for them.
		clk.Advance(6 * time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, 8*charges)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range refs {
					var err error
					if g%2 == 0 {
						_, err = a.DeliverDue(ctx)
					} else {
						_, err = a.DeliverFor(ctx, refs[(i+g*5)%len(refs)])
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		dups := rcv.total - len(rcv.got)
		t.Logf("%d deliveries of %d webhooks, %d duplicates", rcv.total, len(rcv.got), dups)
		if len(rcv.got) != charges || dups != 0 {
			t.Errorf("%d webhooks sent with %d duplicates; want %d with 0", len(rcv.got), dups, charges)
		}
		for _, ref := range refs {
			hooks, err := a.Webhooks(ctx, ref)
			if err != nil || len(hooks) != 1 || !hooks[0].Delivered {
				t.Fatalf("webhooks of %s: %+v, %v; want one, delivered", ref, hooks, err)
			}
		}
		var claimed int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_webhooks WHERE claimed_by IS NOT NULL`).Scan(&claimed); err != nil || claimed != 0 {
			t.Errorf("%d webhooks still claimed (%v); want 0", claimed, err)
		}
	})
}

// TestDeliveryLease: a webhook claimed by a deliverer that died is left
// alone until its lease ends, then sent by the next one; DeliverFor sends
// only its own charge's webhooks.
func TestDeliveryLease(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a, clk, rcv, refs := newDeliveryAcquirer(t, db, 2)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `UPDATE sandbox_webhooks SET claimed_by = 'dead', claimed_until = $1 WHERE charge_id = $2`,
			clk.Now().Add(30*time.Second).UnixMilli(), refs[0]); err != nil {
			t.Fatal(err)
		}
		if n, err := a.DeliverFor(ctx, refs[0]); n != 0 || err != nil {
			t.Fatalf("DeliverFor under a live lease = %d, %v; want 0, nil", n, err)
		}
		if n, err := a.DeliverFor(ctx, refs[1]); n != 1 || err != nil || rcv.total != 1 {
			t.Fatalf("DeliverFor of the other charge = %d, %v after %d deliveries; want 1, nil after 1", n, err, rcv.total)
		}
		clk.Advance(31 * time.Second)
		if n, err := a.DeliverDue(ctx); n != 1 || err != nil {
			t.Fatalf("sweep after the lease = %d, %v; want 1, nil", n, err)
		}
		if n, err := a.DeliverDue(ctx); n != 0 || err != nil || rcv.total != 2 || len(rcv.got) != 2 {
			t.Fatalf("second sweep = %d, %v after %d deliveries of %d webhooks; want 0, nil after 2 of 2", n, err, rcv.total, len(rcv.got))
		}
	})
}
