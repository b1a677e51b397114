package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// Refund states.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// Refund is a refund of part or all of a payment.
type Refund struct {
	ID        string
	PaymentID string
	Amount    int64
	Currency  Currency
	State     string
	Reason    string
	CreatedAt time.Time
}

// ErrOverRefund: the refund asks for more than is left of the payment.
var ErrOverRefund = fmt.Errorf("refund exceeds what was paid: %w", rpcerr.ErrFailedPrecondition)

// ErrRefundRefused: the acquirer refused the refund; nothing was refunded.
var ErrRefundRefused = fmt.Errorf("the payment provider refused the refund: %w", rpcerr.ErrFailedPrecondition)

// CreateRefund refunds amount of one of clientID's payments. The amount is
// reserved on the payment first, under its row lock, so that concurrent
// refunds can never add up to more than was paid; then the acquirer is
// asked (idempotently, by refund id), and on success the reversal is
// posted to the ledger in proportion to what each department still holds.
func (s *Service) CreateRefund(ctx context.Context, clientID, paymentID string, amount int64, reason, key string) (Refund, error) {
	var fes []FieldError
	if paymentID == "" {
		fes = append(fes, FieldError{Field: "payment_id", Reason: "required", Code: "payment_id.required"})
	}
	if amount <= 0 || amount > MaxAmount {
		fes = append(fes, FieldError{Field: "amount", Reason: "must be a positive number of minor units", Code: "amount.range", Args: rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))})
	}
	if len(reason) > 500 {
		fes = append(fes, FieldError{Field: "reason", Reason: "at most 500 bytes", Code: "reason.too_many_bytes", Args: rpcerr.ArgList("500")})
	} else if fe := textcheck.Check("reason", reason, textcheck.OneLine); fe != nil {
		fes = append(fes, *fe)
	}
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		fes = append(fes, FieldError{Field: "idempotency_key", Reason: "at most 255 visible ASCII characters", Code: "idempotency_key.format"})
	}
	if err := fieldErrors(fes); err != nil {
		return Refund{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "rfd_")
	if err != nil {
		return Refund{}, err
	}
	now := s.clock()
	idem := store.NewIdempotencyKey(clientID, scopeCreateRefund, key, struct {
		PaymentID string
		Amount    int64
		Reason    string
	}{paymentID, amount, reason})
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if key != "" {
			got, existing, err := s.claimKey(ctx, tx, idem, id, now)
			if err != nil {
				return err
			}
			if existing {
				id = got
				return nil
			}
		}
		p, err := s.lockPayment(ctx, tx, clientID, paymentID)
		if err != nil {
			return err
		}
		if p.State != Succeeded && p.State != PartiallyRefunded && p.State != Won {
			return fmt.Errorf("payment %s: %w", p.ID, Move(p.State, Refunded))
		}
		if err := refusesRefund(ctx, tx, p.ID); err != nil {
			return err
		}
		if left := p.Amount - p.RefundedAmount; amount > left {
			return fmt.Errorf("%w: %s asked, %s left of %s paid", ErrOverRefund,
				p.Currency.Format(amount), p.Currency.Format(left), p.Currency.Format(p.Amount))
		}
		return reserveRefund(ctx, tx, id, p, amount, reason, now)
	})
	if err != nil {
		return Refund{}, err
	}
	return s.completeRefund(ctx, clientID, id)
}

// completeRefund asks the acquirer for a pending refund and settles it.
// A refund the acquirer could not be reached for stays pending, and the
// sweeper asks again.
func (s *Service) completeRefund(ctx context.Context, clientID, id string) (Refund, error) {
	r, owner, err := s.loadRefund(ctx, s.DB, id)
	if err != nil {
		return Refund{}, err
	}
	if clientID != "" && owner != clientID {
		return Refund{}, fmt.Errorf("refund %s: %w", id, ErrNotFound)
	}
	if r.State != RefundPending {
		return r, nil
	}
	p, err := s.getPayment(ctx, s.DB, "", r.PaymentID)
	if err != nil {
		return Refund{}, err
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return r, fmt.Errorf("refund %s: provider %q is not configured", id, p.Provider)
	}
	res, perr := prov.Refund(ctx, provider.RefundRequest{RefundID: r.ID, ChargeRef: p.ProviderRef, Amount: r.Amount, Currency: string(r.Currency)})
	if perr != nil && !errors.Is(perr, provider.ErrRefundRefused) {
		s.Logger.WarnContext(ctx, "payment: refund not confirmed yet; will retry", "refund_id", id, "err", perr)
		return r, nil
	}
	now := s.clock()
	kick := false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		kick = false
		p, err := s.lockPayment(ctx, tx, "", r.PaymentID)
		if err != nil {
			return err
		}
		st, err := refundState(ctx, tx, id)
		if err != nil {
			return err
		}
		if st != RefundPending {
			return nil // settled by a concurrent call
		}
		if perr != nil {
			return failRefund(ctx, tx, id, p.ID, r.Amount, now)
		}
		if err := succeedRefund(ctx, tx, id, res.Ref, now); err != nil {
			return err
		}
		remaining, err := splitRemainders(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		shares := RefundShares(r.Amount, remaining)
		if err := refundSplits(ctx, tx, p.ID, shares); err != nil {
			return err
		}
		if _, err := s.post(ctx, tx, ReversalPosting(KindRefund, r.ID, p.ID, p.Provider, p.Currency, p.Splits, shares).Of(p.Ministry), now); err != nil {
			return err
		}
		done, err := refundedTotal(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		to := PartiallyRefunded
		if done == p.Amount {
			to = Refunded
		}
		if CanMove(p.State, to) {
			if err := s.move(ctx, tx, &p, to, "refund "+r.ID, now); err != nil {
				return err
			}
		}
		kick = true
		return s.emitRefunded(ctx, tx, &p, r, now)
	})
	if err != nil {
		return Refund{}, err
	}
	if kick {
		s.Relay.Kick()
	}
	r, _, err = s.loadRefund(ctx, s.DB, id)
	if err != nil {
		return Refund{}, err
	}
	if r.State == RefundFailed {
		return r, fmt.Errorf("refund %s: %w", id, ErrRefundRefused)
	}
	return r, nil
}
