package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// webhookBody builds a sandbox webhook about p.
func webhookBody(id string, typ provider.EventType, p Payment, created time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "type": string(typ), "created": created.Unix(),
		"data": map[string]any{"charge": p.ProviderRef, "payment_id": p.ID, "amount": p.Amount, "currency": string(p.Currency)},
	})
	return b
}

// snapshot is what a refused webhook must leave unchanged.
func (h *harness) snapshot() string {
	h.t.Helper()
	return fmt.Sprint(
		h.count(`SELECT COUNT(*) FROM payment_transitions`),
		h.count(`SELECT COUNT(*) FROM ledger_transactions`),
		h.count(`SELECT COUNT(*) FROM webhook_events`),
		h.count(`SELECT COUNT(*) FROM outbox`),
	)
}

func TestWebhookRefusals(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		p := h.create(fee("W"))
		now := h.clk.Now()
		body := webhookBody("evt_real", provider.ChargeSucceeded, p, now)
		before := h.snapshot()
		for _, tc := range []struct {
			name string
			sig  string
			body []byte
			want error
		}{
			{"forged", provider.Sign([]byte("not-the-secret-at-all"), now, body), body, ErrWebhookRefused},
			{"body altered", provider.Sign([]byte(testSecret), now, body), webhookBody("evt_real", provider.ChargeSucceeded, Payment{ID: p.ID, ProviderRef: p.ProviderRef, Amount: 1, Currency: JOD}, now), ErrWebhookRefused},
			{"stale", provider.Sign([]byte(testSecret), now.Add(-6*time.Minute), body), body, ErrWebhookRefused},
			{"from the future", provider.Sign([]byte(testSecret), now.Add(6*time.Minute), body), body, ErrWebhookRefused},
			{"no signature", "", body, ErrWebhookRefused},
		} {
			err := h.svc.HandleWebhook(ctx, "sandbox", tc.body, tc.sig)
			if tc.name == "no signature" {
				if err == nil {
					t.Errorf("%s: accepted", tc.name)
				}
			} else if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
			}
			if got := h.snapshot(); got != before {
				t.Errorf("%s changed something: %s → %s", tc.name, before, got)
			}
		}
		if err := h.svc.HandleWebhook(ctx, "visa", body, provider.Sign([]byte(testSecret), now, body)); !errors.Is(err, ErrUnknownProvider) {
			t.Errorf("unknown provider: %v", err)
		}
		// The genuine one applies; replaying it (same body and signature,
		// within the tolerance) is refused and changes nothing.
		sig := provider.Sign([]byte(testSecret), now, body)
		if err := h.svc.HandleWebhook(ctx, "sandbox", body, sig); err != nil {
			t.Fatalf("genuine webhook: %v", err)
		}
		after := h.snapshot()
		h.clk.Advance(time.Minute)
		if err := h.svc.HandleWebhook(ctx, "sandbox", body, sig); !errors.Is(err, ErrWebhookReplayed) {
			t.Errorf("replay: %v; want ErrWebhookReplayed", err)
		}
		if got := h.snapshot(); got != after {
			t.Errorf("replay changed something: %s → %s", after, got)
		}
		if p := h.get(p.ID); p.State != Succeeded {
			t.Errorf("state %s; want succeeded", p.State)
		}
		h.checkLedger()
	})
}

// TestWebhooksTwiceAndOutOfOrder delivers a payment's webhooks in reverse
// order, each twice (distinct deliveries of the same events), and checks
// the final state and a single posting.
func TestWebhooksTwiceAndOutOfOrder(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		for _, tc := range []struct {
			name   string
			events []provider.EventType
			want   State
		}{
			{"success before pending", []provider.EventType{provider.ChargeSucceeded, provider.ChargePending}, Succeeded},
			{"lost before opened", []provider.EventType{provider.ChargeSucceeded, provider.DisputeLost, provider.DisputeOpened}, Lost},
			{"won before opened", []provider.EventType{provider.ChargeSucceeded, provider.DisputeWon, provider.DisputeOpened}, Won},
			{"failure then late pending", []provider.EventType{provider.ChargeFailed, provider.ChargePending}, Failed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := h.create(fee(tc.name))
				for round := range 2 {
					for i, typ := range tc.events {
						now := h.clk.Now()
						body := webhookBody(fmt.Sprintf("evt_%s_%d", p.ID, i), typ, p, now)
						err := h.svc.HandleWebhook(ctx, "sandbox", body, provider.Sign([]byte(testSecret), now, body))
						if round == 0 && err != nil {
							t.Fatalf("%s: %v", typ, err)
						}
						if round == 1 && !errors.Is(err, ErrWebhookReplayed) {
							t.Fatalf("second delivery of %s: %v; want replayed", typ, err)
						}
					}
				}
				got := h.get(p.ID)
				if got.State != tc.want {
					t.Fatalf("state %s; want %s", got.State, tc.want)
				}
				if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture' AND ref = $1`, p.ID); tc.want != Failed && n != 1 {
					t.Errorf("%d captures; want exactly 1", n)
				}
				wantLost := 0
				if tc.want == Lost {
					wantLost = 1
				}
				if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'dispute_lost' AND ref = $1`, p.ID); n != wantLost {
					t.Errorf("%d dispute_lost postings; want %d", n, wantLost)
				}
			})
		}
		h.checkLedger()
	})
}

// TestCrashBetweenConfirmationAndPosting: the service dies after the
// acquirer confirmed the payment and before the ledger posting. After a
// restart the payment converges to succeeded with exactly one posting,
// both by the acquirer's redelivery and by the status check.
func TestCrashBetweenConfirmationAndPosting(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		for _, recovery := range []string{"webhook redelivery", "status check"} {
			t.Run(recovery, func(t *testing.T) {
				h := newHarness(t, db, nil)
				crash := errors.New("process killed")
				h.svc.crashAfterConfirm = func() error { return crash }
				p := h.create(fee("CRASH " + recovery))
				h.checkout(p, "4242424242424242") // the acquirer has the money
				if st, _ := h.sb.ChargeStatus(context.Background(), p.ProviderRef); st != provider.StatusSucceeded {
					t.Fatalf("acquirer says %s", st)
				}
				if got := h.get(p.ID); got.State != Created {
					t.Fatalf("state after the crash %s; want created (nothing stored)", got.State)
				}
				// Restart: a new Service on the same database.
				h2 := newHarnessOn(t, db, h.bus, h.clk, nil)
				switch recovery {
				case "webhook redelivery":
					h.clk.Advance(2 * time.Second)
					if _, err := h2.sb.DeliverDue(context.Background()); err != nil {
						t.Fatal(err)
					}
				case "status check":
					h2.setDeliver(func(context.Context, []byte, string) error { return errors.New("still down") })
					h.clk.Advance(2 * time.Minute)
					if _, err := h2.svc.Sweep(context.Background()); err != nil {
						t.Fatal(err)
					}
					// The late webhook is then absorbed without a second posting.
					h2.setDeliver(nil)
					h.clk.Advance(time.Minute)
					if _, err := h2.sb.DeliverDue(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if got := h2.get(p.ID); got.State != Succeeded {
					t.Fatalf("after restart: %s; want succeeded", got.State)
				}
				if n := h2.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture' AND ref = $1`, p.ID); n != 1 {
					t.Errorf("%d captures; want exactly 1", n)
				}
				if n := h2.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.succeeded' AND ce_subject = $1`, p.ID); n != 1 {
					t.Errorf("%d payment.succeeded events; want 1", n)
				}
				h2.checkLedger()
			})
		}
	})
}
