package payment

import (
	"context"
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/telemetry"
	"github.com/tamkeen/tamkeen/services/payment/money"
)

// Webhook verification outcomes, the closed set of the outcome label of
// tamkeen_payment_webhook_verifications_total.
const (
	webhookOK              = "ok"               // verified and applied (or recorded as ignored)
	webhookBadSignature    = "bad_signature"    // the HMAC does not verify: forged or wrong secret
	webhookStale           = "stale"            // signed outside the tolerance window
	webhookMalformed       = "malformed"        // no parsable signature header or body
	webhookReplayed        = "replayed"         // an event id already processed
	webhookUnknownProvider = "unknown_provider" // no such acquirer configured
	webhookError           = "error"            // verified, but storing it failed (the acquirer retries)
)

func webhookOutcomes() []string {
	return []string{webhookOK, webhookBadSignature, webhookStale, webhookMalformed, webhookReplayed, webhookUnknownProvider, webhookError}
}

// metrics are the payment enabler's own instruments. Every label comes
// from a closed set: states (States), currencies (money.Currencies),
// ledger kinds and webhook outcomes; never ids or provider text.
type metrics struct {
	transitions *prometheus.CounterVec
	webhooks    *prometheus.CounterVec
	postings    *prometheus.CounterVec
}

// newMetrics registers the instruments on reg (reusing those another
// instance registered) with every series present from the start at 0, so
// that rate() and absent() work before the first payment.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	currencies := labelValues(money.Currencies())
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		transitions: in.CounterVec("tamkeen_payment_transitions_total",
			"Payments entering a state (created, pending, succeeded, failed, … lost), by currency; committed changes only.",
			[]string{"state", "currency"}, labelValues(States()), currencies),
		webhooks: in.CounterVec("tamkeen_payment_webhook_verifications_total",
			"Acquirer webhooks received, by outcome: ok, bad_signature, stale, malformed, replayed, unknown_provider, error.",
			[]string{"outcome"}, webhookOutcomes()),
		postings: in.CounterVec("tamkeen_payment_ledger_postings_total",
			"Balanced ledger transactions posted, by kind (capture, refund, dispute_lost, settlement) and currency; committed only.",
			[]string{"kind", "currency"}, []string{KindCapture, KindRefund, KindDisputeLost, KindSettlement}, currencies),
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// labelValues is a closed set as label values.
func labelValues[T ~string](set []T) []string {
	out := make([]string, len(set))
	for i, v := range set {
		out[i] = string(v)
	}
	return out
}

// tally holds what one transaction changed, counted only once it commits:
// a rolled-back (or, on SQLite, retried) transaction counts nothing.
type tally struct {
	transitions [][2]string // state, currency
	postings    [][2]string // kind, currency
}

type tallyKey struct{}

// inTx is DB.InTx for the use cases: fn gets a context through which move
// and post note their changes, and they are counted once the transaction
// has committed.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	var t *tally
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		t = &tally{} // afresh on every attempt
		return fn(context.WithValue(ctx, tallyKey{}, t), tx)
	})
	if err == nil && t != nil {
		for _, l := range t.transitions {
			s.metrics.transitions.WithLabelValues(l[0], l[1]).Inc()
		}
		for _, l := range t.postings {
			s.metrics.postings.WithLabelValues(l[0], l[1]).Inc()
		}
	}
	return err
}

// noteTransition counts a payment entering state to, at the commit of the
// transaction of ctx (inTx), or now outside one.
func (s *Service) noteTransition(ctx context.Context, to State, cur Currency) {
	if t, ok := ctx.Value(tallyKey{}).(*tally); ok {
		t.transitions = append(t.transitions, [2]string{string(to), currencyLabel(cur)})
		return
	}
	s.metrics.transitions.WithLabelValues(string(to), currencyLabel(cur)).Inc()
}

// notePosting counts a ledger posting like noteTransition.
func (s *Service) notePosting(ctx context.Context, kind string, cur Currency) {
	if t, ok := ctx.Value(tallyKey{}).(*tally); ok {
		t.postings = append(t.postings, [2]string{kind, currencyLabel(cur)})
		return
	}
	s.metrics.postings.WithLabelValues(kind, currencyLabel(cur)).Inc()
}

// noteWebhook counts one webhook's outcome.
func (s *Service) noteWebhook(outcome string) { s.metrics.webhooks.WithLabelValues(outcome).Inc() }

// currencyLabel is cur when it is one of the accepted currencies, else
// "other": a label never takes a value from outside the closed set.
func currencyLabel(cur Currency) string {
	if _, err := money.ParseCurrency(string(cur)); err != nil {
		return "other"
	}
	return string(cur)
}
