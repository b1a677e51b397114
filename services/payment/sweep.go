package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// SweepReport says what one sweep did.
type SweepReport struct {
	Expired int
	Synced  int
	Refunds int
	// Stamps is how many stamps expired unused (stamp.go).
	Stamps int
	// Announced, Submitted and Collected are how many direct-debit
	// collections were announced, submitted to the bank and settled or
	// failed from its result (mandate.go).
	Announced, Submitted, Collected int
}

// sweepBatch bounds each part of one sweep.
const sweepBatch = 100

// Sweep runs the background duties once: payments unpaid at their expiry
// are voided at the acquirer and expire (or, if the acquirer took the money
// meanwhile, succeed); payments without a final word after
// StatusCheckAfter are checked with the acquirer, so that a payment whose
// webhook was lost (or whose processing crashed) still converges; pending
// refunds are asked for again.
func (s *Service) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	now := s.clock()
	ids, err := expiredPaymentIDs(ctx, s.DB, now, sweepBatch)
	if err != nil {
		return rep, err
	}
	rep.Expired = s.sweepEach(ctx, ids, "payment: expire", "payment_id", func(id string) (bool, error) {
		return s.expire(ctx, id)
	})
	ids, err = unsettledPaymentIDs(ctx, s.DB, now.Add(-s.cfg.StatusCheckAfter), sweepBatch)
	if err != nil {
		return rep, err
	}
	rep.Synced = s.sweepEach(ctx, ids, "payment: status check", "payment_id", func(id string) (bool, error) {
		return s.syncPayment(ctx, id)
	})
	ids, err = pendingRefundIDs(ctx, s.DB, now.Add(-s.cfg.StatusCheckAfter), sweepBatch)
	if err != nil {
		return rep, err
	}
	rep.Refunds = s.sweepEach(ctx, ids, "payment: refund retry", "refund_id", func(id string) (bool, error) {
		r, err := s.completeRefund(ctx, "", id)
		if err != nil && !errors.Is(err, ErrRefundRefused) {
			return false, err
		}
		return r.State != RefundPending, nil // a refusal is an answer too
	})
	if rep.Stamps, err = s.ExpireStamps(ctx); err != nil {
		return rep, err
	}
	if rep.Announced, rep.Submitted, rep.Collected, err = s.sweepDebits(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}

// sweepEach applies do to each id and counts those it changed. A failure
// is logged (msg, with the id under key) and passed over: the next sweep
// tries that id again, and one bad row must not hold up the others.
func (s *Service) sweepEach(ctx context.Context, ids []string, msg, key string, do func(id string) (bool, error)) int {
	n := 0
	for _, id := range ids {
		changed, err := do(id)
		if err != nil {
			s.Logger.WarnContext(ctx, msg, key, id, "err", err)
			continue
		}
		if changed {
			n++
		}
	}
	return n
}

// expire voids an unpaid payment's charge and marks it expired.
func (s *Service) expire(ctx context.Context, id string) (bool, error) {
	p, err := s.getPayment(ctx, s.DB, "", id)
	if err != nil {
		return false, err
	}
	if err := s.voidCharge(ctx, p); err != nil {
		if errors.Is(err, ErrPaidMeanwhile) {
			return false, nil // it succeeded instead
		}
		return false, err
	}
	expired := false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		p, err := s.lockPayment(ctx, tx, "", id)
		if err != nil {
			return err
		}
		expired = false
		if p.State != Created && p.State != Pending {
			return nil
		}
		expired = true
		now := s.clock()
		if err := s.move(ctx, tx, &p, Expired, "expired unpaid", now); err != nil {
			return err
		}
		// Announced for the ministry's webhooks (payment.expired).
		return s.emitExpired(ctx, tx, &p, "expired unpaid", now)
	})
	return expired, err
}

// syncPayment asks the acquirer where an unfinished payment's charge stands
// and applies the answer as if it were a webhook. It reports whether the
// payment changed.
func (s *Service) syncPayment(ctx context.Context, id string) (bool, error) {
	p, err := s.getPayment(ctx, s.DB, "", id)
	if err != nil {
		return false, err
	}
	if (p.State != Created && p.State != Pending) || p.ProviderRef == "" {
		return false, nil
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return false, fmt.Errorf("payment %s: provider %q is not configured", id, p.Provider)
	}
	st, err := prov.ChargeStatus(ctx, p.ProviderRef)
	if err != nil {
		return false, err
	}
	n := provider.Notification{ChargeRef: p.ProviderRef, PaymentID: p.ID, Amount: p.Amount, Currency: string(p.Currency)}
	switch st {
	case provider.StatusSucceeded:
		n.Type = provider.ChargeSucceeded
	case provider.StatusFailed:
		n.Type, n.Reason = provider.ChargeFailed, "declined"
	case provider.StatusPending:
		n.Type = provider.ChargePending
	default:
		return false, nil
	}
	changed, kick := false, false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		outcome, k, err := s.apply(ctx, tx, p.Provider, n, "status check with "+p.Provider, s.clock())
		changed, kick = err == nil && strings.HasPrefix(outcome, "applied:"), k
		return err
	})
	if kick {
		s.Relay.Kick()
	}
	return changed, err
}
