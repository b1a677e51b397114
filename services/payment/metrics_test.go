package payment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// TestMetricsCountCommittedChanges pays, refunds and crashes payments
// through the real use cases and reads the counters: each state's
// transitions equal the rows of payment_transitions entering it, each
// kind's postings the ledger's transactions, and a rolled-back
// transaction counts nothing.
func TestMetricsCountCommittedChanges(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		m := h.svc.metrics
		for _, ref := range []string{"M1", "M2", "M3"} {
			h.pay(fee(ref))
		}
		p := h.pay(fee("M4"))
		if _, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 1000, "overpaid", "rf-1"); err != nil {
			t.Fatalf("CreateRefund: %v", err)
		}
		h.create(fee("M5")) // created only

		// A payment whose confirmation crashes before it is stored: the
		// acquirer's webhook fails, and nothing may be counted for it.
		h.svc.crashAfterConfirm = func() error { return errors.New("process killed") }
		crashed := h.create(fee("M6"))
		h.checkout(crashed, "4242424242424242")
		h.svc.crashAfterConfirm = nil

		for _, st := range States() {
			want := h.count(`SELECT COUNT(*) FROM payment_transitions WHERE to_state = $1`, string(st))
			if got := testutil.ToFloat64(m.transitions.WithLabelValues(string(st), "JOD")); got != float64(want) {
				t.Errorf("transitions{state=%s,currency=JOD} = %v; want %d (the rows entering %s)", st, got, want, st)
			}
		}
		if got := testutil.ToFloat64(m.transitions.WithLabelValues("succeeded", "JOD")); got != 4 {
			t.Errorf("succeeded payments = %v; want 4", got)
		}
		if got := testutil.ToFloat64(m.transitions.WithLabelValues("created", "JOD")); got != 6 {
			t.Errorf("created payments = %v; want 6", got)
		}
		for _, kind := range []string{KindCapture, KindRefund} {
			want := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = $1 AND currency = 'JOD'`, kind)
			if got := testutil.ToFloat64(m.postings.WithLabelValues(kind, "JOD")); got != float64(want) || want == 0 {
				t.Errorf("postings{kind=%s,currency=JOD} = %v; want %d (non-zero)", kind, got, want)
			}
		}
		if got := testutil.ToFloat64(m.postings.WithLabelValues(KindCapture, "ILS")); got != 0 {
			t.Errorf("ILS captures = %v; want 0", got)
		}
		okHooks := h.count(`SELECT COUNT(*) FROM webhook_events`)
		if got := testutil.ToFloat64(m.webhooks.WithLabelValues(webhookOK)); got != float64(okHooks) || okHooks == 0 {
			t.Errorf("webhooks ok = %v; want %d (the rows of webhook_events)", got, okHooks)
		}
		if got := testutil.ToFloat64(m.webhooks.WithLabelValues(webhookError)); got < 1 {
			t.Errorf("webhooks error = %v; want at least 1 (the crashed confirmation)", got)
		}
		// Bounded: 11 states × 3 currencies, 4 kinds × 3, 7 outcomes, all
		// present from the start.
		for name, want := range map[string]int{
			"tamkeen_payment_transitions_total": 33, "tamkeen_payment_ledger_postings_total": 12,
			"tamkeen_payment_webhook_verifications_total": 7,
		} {
			if n := testutil.CollectAndCount(h.svc.Registry, name); n != want {
				t.Errorf("%s has %d series; want %d", name, n, want)
			}
		}
		h.checkLedger()
	})
}

func TestMetricsWebhookOutcomes(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	p := h.create(fee("W"))
	now := h.clk.Now()
	body := webhookBody("evt_m", provider.ChargeSucceeded, p, now)
	sig := provider.Sign([]byte(testSecret), now, body)
	calls := []struct {
		prov, sig string
	}{
		{"sandbox", provider.Sign([]byte("not-the-secret-at-all"), now, body)},        // bad_signature
		{"sandbox", provider.Sign([]byte(testSecret), now.Add(-6*time.Minute), body)}, // stale
		{"sandbox", "garbage"}, // malformed
		{"visa", sig},          // unknown_provider
		{"sandbox", sig},       // ok
		{"sandbox", sig},       // replayed
	}
	for _, c := range calls {
		_ = h.svc.HandleWebhook(ctx, c.prov, body, c.sig)
	}
	for _, o := range []string{webhookBadSignature, webhookStale, webhookMalformed, webhookUnknownProvider, webhookOK, webhookReplayed} {
		if got := testutil.ToFloat64(h.svc.metrics.webhooks.WithLabelValues(o)); got != 1 {
			t.Errorf("webhook verifications{outcome=%s} = %v; want 1", o, got)
		}
	}
	if got := testutil.ToFloat64(h.svc.metrics.webhooks.WithLabelValues(webhookError)); got != 0 {
		t.Errorf("webhook verifications{outcome=error} = %v; want 0", got)
	}
}

func TestMetricsOnHandBuiltKit(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	deps := Deps{Kit: h.svc.Kit, Verifier: noVerifier(t)}
	deps.Registry = nil // a kit written by hand
	if _, err := New(testConfig(), deps); err != nil {
		t.Fatalf("New with a nil registry: %v", err)
	}
}
