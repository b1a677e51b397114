package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// Webhook errors.
var (
	// ErrWebhookRefused: the signature is forged or stale. Nothing changed.
	ErrWebhookRefused = fmt.Errorf("webhook refused: %w", rpcerr.ErrUnauthenticated)
	// ErrWebhookReplayed: this event id was already processed. Nothing
	// changed; a provider should treat the 409 as delivered.
	ErrWebhookReplayed = fmt.Errorf("webhook already processed: %w", rpcerr.ErrAlreadyExists)
	// ErrUnknownProvider: no such provider is configured.
	ErrUnknownProvider = fmt.Errorf("unknown payment provider: %w", rpcerr.ErrNotFound)
)

// HandleWebhook verifies and applies a provider's webhook: payload is the
// exact body, signature its signature header. A forged or stale webhook
// is refused (ErrWebhookRefused), a replayed one too (ErrWebhookReplayed),
// and neither changes anything. Notifications that arrive out of order are
// applied as far as they still move the payment forward; the rest are
// recorded as ignored.
func (s *Service) HandleWebhook(ctx context.Context, providerName string, payload []byte, signature string) error {
	prov, ok := s.providers[providerName]
	if !ok {
		s.noteWebhook(webhookUnknownProvider)
		return fmt.Errorf("%w: %q", ErrUnknownProvider, providerName)
	}
	n, err := prov.ParseWebhook(payload, signature, s.Now())
	switch {
	case errors.Is(err, provider.ErrBadSignature) || errors.Is(err, provider.ErrStale):
		if errors.Is(err, provider.ErrStale) {
			s.noteWebhook(webhookStale)
		} else {
			s.noteWebhook(webhookBadSignature)
		}
		s.Logger.WarnContext(ctx, "payment: webhook refused", "provider", providerName, "err", err)
		return fmt.Errorf("%w: %v", ErrWebhookRefused, err)
	case errors.Is(err, provider.ErrMalformed):
		s.noteWebhook(webhookMalformed)
		return fmt.Errorf("%w: %v", rpcerr.ErrInvalid, err)
	case err != nil:
		s.noteWebhook(webhookError)
		return err
	}
	now := s.clock()
	var outcome string
	var kick bool
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if s.crashAfterConfirm != nil {
			if err := s.crashAfterConfirm(); err != nil {
				return err
			}
		}
		first, err := recordWebhook(ctx, tx, providerName, n, now)
		if err != nil {
			return fmt.Errorf("record webhook: %w", err)
		}
		if !first {
			return fmt.Errorf("%w: event %s", ErrWebhookReplayed, n.ID)
		}
		outcome, kick, err = s.apply(ctx, tx, prov.Name(), n, "webhook "+n.ID, now)
		if err != nil {
			return err
		}
		return setWebhookOutcome(ctx, tx, providerName, n.ID, outcome)
	})
	switch {
	case errors.Is(err, ErrWebhookReplayed):
		s.noteWebhook(webhookReplayed)
	case err != nil:
		s.noteWebhook(webhookError)
	default:
		s.noteWebhook(webhookOK)
	}
	if err != nil {
		return err
	}
	if kick {
		s.Relay.Kick()
	}
	s.Logger.InfoContext(ctx, "payment: webhook", "provider", providerName, "event_id", n.ID, "type", string(n.Type), "payment_id", n.PaymentID, "outcome", outcome)
	return nil
}

// apply moves a payment as notification n says, inside tx, and returns
// what it did and whether events were enqueued. A notification the payment
// has already moved past is "ignored"; so is one about an unknown payment
// or whose charge, amount or currency does not match (logged as an error:
// the acquirer and we disagree).
func (s *Service) apply(ctx context.Context, tx *sql.Tx, provName string, n provider.Notification, cause string, now time.Time) (string, bool, error) {
	p, err := s.lockPayment(ctx, tx, "", n.PaymentID)
	if errors.Is(err, ErrNotFound) {
		s.Logger.ErrorContext(ctx, "payment: notification about an unknown payment", "payment_id", n.PaymentID, "event_id", n.ID)
		return "ignored: unknown payment", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if p.Provider != provName || (p.ProviderRef != "" && p.ProviderRef != n.ChargeRef) ||
		(n.Type == provider.ChargeSucceeded && (n.Amount != p.Amount || n.Currency != string(p.Currency))) {
		s.Logger.ErrorContext(ctx, "payment: notification does not match the payment", "payment_id", p.ID, "event_id", n.ID, "type", string(n.Type))
		return "ignored: does not match the payment", false, nil
	}
	var path []State
	switch n.Type {
	case provider.ChargePending:
		if p.State == Created {
			path = []State{Pending}
		}
	case provider.ChargeSucceeded:
		switch p.State {
		case Created:
			path = []State{Pending, Succeeded}
		case Pending:
			path = []State{Succeeded}
		case Cancelled, Expired, Failed:
			s.Logger.ErrorContext(ctx, "payment: acquirer took money for a payment that is not payable; refund it", "payment_id", p.ID, "state", string(p.State))
			return "ignored: paid while " + string(p.State) + " (needs a manual refund)", false, nil
		}
	case provider.ChargeFailed:
		if p.State == Created || p.State == Pending {
			path = []State{Failed}
		}
	case provider.DisputeOpened:
		if p.State == Succeeded || p.State == PartiallyRefunded {
			path = []State{Disputed}
		}
	case provider.DisputeWon, provider.DisputeLost:
		end := Won
		if n.Type == provider.DisputeLost {
			end = Lost
		}
		switch p.State {
		case Succeeded, PartiallyRefunded:
			path = []State{Disputed, end} // the opening was lost or is late
		case Disputed:
			path = []State{end}
		}
	}
	if len(path) == 0 {
		return fmt.Sprintf("ignored: %s while %s", n.Type, p.State), false, nil
	}
	kick := false
	for _, to := range path {
		if err := s.move(ctx, tx, &p, to, cause, now); err != nil {
			return "", false, err
		}
		k, err := s.onEnter(ctx, tx, &p, n, now)
		if err != nil {
			return "", false, err
		}
		kick = kick || k
	}
	return "applied: " + string(p.State), kick, nil
}

// onEnter does what entering p's (new) state requires: post the capture or
// the lost dispute to the ledger and enqueue the event announcing it.
func (s *Service) onEnter(ctx context.Context, tx *sql.Tx, p *Payment, n provider.Notification, now time.Time) (bool, error) {
	switch p.State {
	case Succeeded:
		if err := setPaidAt(ctx, tx, p.ID, now); err != nil {
			return false, err
		}
		if _, err := s.post(ctx, tx, CapturePosting(p.ID, p.Provider, p.Currency, p.Amount, p.Splits).Of(p.Ministry), now); err != nil {
			return false, err
		}
		if _, err := s.issueStamps(ctx, tx, p, now); err != nil {
			return false, err
		}
		return true, s.emitSucceeded(ctx, tx, p, now)
	case Failed:
		return true, s.emitFailed(ctx, tx, p, n.Reason, now)
	case Disputed:
		return true, s.emitDisputed(ctx, tx, p, n.Reason, now)
	case Lost:
		remaining, err := splitRemainders(ctx, tx, p.ID)
		if err != nil {
			return false, err
		}
		var total int64
		for _, r := range remaining {
			total += r
		}
		if total > 0 {
			if _, err := s.post(ctx, tx, ReversalPosting(KindDisputeLost, p.ID, p.ID, p.Provider, p.Currency, p.Splits, remaining).Of(p.Ministry), now); err != nil {
				return false, err
			}
		}
		if err := s.revokeStamps(ctx, tx, p, now); err != nil {
			return false, err
		}
		return true, s.emitDisputed(ctx, tx, p, "lost", now)
	case Won:
		return true, s.emitDisputed(ctx, tx, p, "won", now)
	}
	return false, nil
}
