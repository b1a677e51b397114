package payment

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/sandbox"
)

// deliveryLog counts the sandbox's webhook deliveries per webhook and per
// payment, as the enabler's receiver sees them.
type deliveryLog struct {
	mu        sync.Mutex
	byWebhook map[string]int
	byPayment map[string]int
	total     int
}

func newDeliveryLog() *deliveryLog {
	return &deliveryLog{byWebhook: map[string]int{}, byPayment: map[string]int{}}
}

// record counts one delivery of payload.
func (l *deliveryLog) record(payload []byte) error {
	n, err := sandbox.DecodeWebhook(payload)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byWebhook[n.ID]++
	l.byPayment[n.PaymentID]++
	l.total++
	return nil
}

// duplicates is how many deliveries repeated a webhook already delivered.
func (l *deliveryLog) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total - len(l.byWebhook)
}

// TestConcurrentCheckoutsDeliverOwnWebhook: 8 payers pay 10 payments each
// at the same time through the hosted checkout. Each checkout delivers its
// own payment's webhook, so the enabler receives every charge.succeeded
// exactly once and every payment ends succeeded with one capture.
func TestConcurrentCheckoutsDeliverOwnWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("80 concurrent checkouts")
	}
	const workers, each = 8, 10
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		log := newDeliveryLog()
		h.setDeliver(func(ctx context.Context, payload []byte, sig string) error {
			if err := log.record(payload); err != nil {
				return err
			}
			return h.take(ctx, payload, sig)
		})
		payments := make([]Payment, workers*each)
		for i := range payments {
			payments[i] = h.create(fee("CONCURRENT " + string(rune('A'+i/each)) + string(rune('0'+i%each))))
		}
		handler := h.svc.HTTPHandler()
		form := url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}, "lang": {"en"}}.Encode()
		codes := make([]int, len(payments))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w * each; i < (w+1)*each; i++ {
					req := httptest.NewRequest(http.MethodPost, strings.TrimPrefix(payments[i].NextURL, testPublicURL), strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, req)
					codes[i] = rec.Code
				}
			}()
		}
		wg.Wait()
		dups := log.duplicates()
		t.Logf("%d checkouts: %d deliveries of %d webhooks, %d duplicates", len(payments), log.total, len(log.byWebhook), dups)
		for i, p := range payments {
			if codes[i] != http.StatusSeeOther {
				t.Errorf("checkout %d answered %d; want 303", i, codes[i])
			}
			if n := log.byPayment[p.ID]; n != 1 {
				t.Errorf("payment %s: %d webhook deliveries; want exactly 1", p.ID, n)
			}
			if got := h.get(p.ID); got.State != Succeeded {
				t.Errorf("payment %s is %s; want succeeded", p.ID, got.State)
			}
		}
		if dups != 0 {
			t.Errorf("%d duplicate deliveries; want 0", dups)
		}
		if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture'`); n != len(payments) {
			t.Errorf("%d captures; want %d", n, len(payments))
		}
		h.checkLedger()
	})
}

// TestCheckoutDeliveryFailureLeftToSweep: the enabler answers 500 to the
// checkout's delivery. The payer still gets an answer, and the sandbox's
// sweep delivers the webhook later, once; a further sweep sends nothing.
func TestCheckoutDeliveryFailureLeftToSweep(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		log := newDeliveryLog()
		var mu sync.Mutex
		failures := 1
		h.setDeliver(func(ctx context.Context, payload []byte, sig string) error {
			if err := log.record(payload); err != nil {
				return err
			}
			mu.Lock()
			fail := failures > 0
			failures--
			mu.Unlock()
			if fail {
				return errors.New("sandbox: webhook answered 500 Internal Server Error")
			}
			return h.take(ctx, payload, sig)
		})
		p := h.create(fee("SWEEP"))
		if resp := h.checkout(p, "4242424242424242"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("checkout answered %d; want 303", resp.StatusCode)
		}
		if got := h.get(p.ID); got.State != Created || log.total != 1 {
			t.Fatalf("after the failed delivery: %s after %d deliveries; want created after 1", got.State, log.total)
		}
		// Not yet due: the retry waits for its back-off.
		ctx := context.Background()
		if n, err := h.sb.DeliverDue(ctx); n != 0 || err != nil || log.total != 1 {
			t.Fatalf("sweep before the retry is due = %d, %v after %d deliveries; want 0, nil after 1", n, err, log.total)
		}
		h.clk.Advance(2 * time.Second)
		if n, err := h.sb.DeliverDue(ctx); n != 1 || err != nil {
			t.Fatalf("sweep = %d, %v; want 1, nil", n, err)
		}
		if n, err := h.sb.DeliverDue(ctx); n != 0 || err != nil {
			t.Fatalf("second sweep = %d, %v; want 0, nil", n, err)
		}
		if got := h.get(p.ID); got.State != Succeeded {
			t.Fatalf("after the sweep: %s; want succeeded", got.State)
		}
		if log.total != 2 || log.byPayment[p.ID] != 2 || len(log.byWebhook) != 1 {
			t.Errorf("%d deliveries of %d webhooks; want 2 of 1 (the failed one and the sweep's)", log.total, len(log.byWebhook))
		}
		if n := h.count(`SELECT COUNT(*) FROM webhook_events`); n != 1 {
			t.Errorf("%d webhooks applied; want exactly 1", n)
		}
		if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture' AND ref = $1`, p.ID); n != 1 {
			t.Errorf("%d captures; want exactly 1", n)
		}
		hooks, err := h.sb.Webhooks(ctx, p.ProviderRef)
		if err != nil || len(hooks) != 1 || !hooks[0].Delivered {
			t.Errorf("sandbox webhooks %+v, %v; want one, delivered", hooks, err)
		}
		var body struct{ Type string }
		if len(hooks) == 1 {
			_ = json.Unmarshal(hooks[0].Payload, &body)
		}
		if body.Type != "charge.succeeded" {
			t.Errorf("webhook type %q; want charge.succeeded", body.Type)
		}
	})
}
