package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		fes = append(fes, FieldError{Field: "payment_id", Reason: "required"})
	}
	if amount <= 0 || amount > MaxAmount {
		fes = append(fes, FieldError{Field: "amount", Reason: "must be a positive number of minor units"})
	}
	if len(reason) > 500 {
		fes = append(fes, FieldError{Field: "reason", Reason: "at most 500 bytes"})
	} else if fe := textcheck.Check("reason", reason, textcheck.OneLine); fe != nil {
		fes = append(fes, *fe)
	}
	if len(key) > 255 || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		fes = append(fes, FieldError{Field: "idempotency_key", Reason: "at most 255 visible ASCII characters"})
	}
	if err := fieldErrors(fes); err != nil {
		return Refund{}, err
	}
	id, err := store.NewIDFrom(s.rand, "rfd_")
	if err != nil {
		return Refund{}, err
	}
	now := s.clock()
	hash := requestHash(struct {
		PaymentID string
		Amount    int64
		Reason    string
	}{paymentID, amount, reason})
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if key != "" {
			got, existing, err := s.claimKey(ctx, tx, clientID, scopeCreateRefund, key, hash, id, now)
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
		if left := p.Amount - p.RefundedAmount; amount > left {
			return fmt.Errorf("%w: %s asked, %s left of %s paid", ErrOverRefund,
				p.Currency.Format(amount), p.Currency.Format(left), p.Currency.Format(p.Amount))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = refunded_amount + $1, updated_at = $2 WHERE id = $3`,
			amount, now, p.ID); err != nil {
			return fmt.Errorf("reserve refund: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refunds (id, payment_id, amount, currency, state, reason, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, id, p.ID, amount, string(p.Currency), RefundPending, reason, now)
		return err
	})
	if err != nil {
		return Refund{}, err
	}
	return s.completeRefund(ctx, clientID, id)
}

func (s *Service) loadRefund(ctx context.Context, q querier, id string) (Refund, string, error) {
	var r Refund
	var cur, clientID string
	err := q.QueryRowContext(ctx, `SELECT r.id, r.payment_id, r.amount, r.currency, r.state, r.reason, r.created_at, p.client_id
		FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = $1`, id).Scan(
		&r.ID, &r.PaymentID, &r.Amount, &cur, &r.State, &r.Reason, store.ScanTime(&r.CreatedAt), &clientID)
	if store.IsNoRows(err) {
		return r, "", fmt.Errorf("refund %s: %w", id, ErrNotFound)
	}
	r.Currency = Currency(cur)
	return r, clientID, err
}

// completeRefund asks the acquirer for a pending refund and settles it.
// A refund the acquirer could not be reached for stays pending, and the
// sweeper asks again.
func (s *Service) completeRefund(ctx context.Context, clientID, id string) (Refund, error) {
	r, owner, err := s.loadRefund(ctx, s.db, id)
	if err != nil {
		return Refund{}, err
	}
	if clientID != "" && owner != clientID {
		return Refund{}, fmt.Errorf("refund %s: %w", id, ErrNotFound)
	}
	if r.State != RefundPending {
		return r, nil
	}
	p, err := s.getPayment(ctx, s.db, "", r.PaymentID)
	if err != nil {
		return Refund{}, err
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return r, fmt.Errorf("refund %s: provider %q is not configured", id, p.Provider)
	}
	res, perr := prov.Refund(ctx, provider.RefundRequest{RefundID: r.ID, ChargeRef: p.ProviderRef, Amount: r.Amount, Currency: string(r.Currency)})
	if perr != nil && !errors.Is(perr, provider.ErrRefundRefused) {
		s.log.WarnContext(ctx, "payment: refund not confirmed yet; will retry", "refund_id", id, "err", perr)
		return r, nil
	}
	now := s.clock()
	kick := false
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		kick = false
		p, err := s.lockPayment(ctx, tx, "", r.PaymentID)
		if err != nil {
			return err
		}
		var st string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM refunds WHERE id = $1`, id).Scan(&st); err != nil {
			return err
		}
		if st != RefundPending {
			return nil // settled by a concurrent call
		}
		if perr != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE refunds SET state = $1, updated_at = $2 WHERE id = $3`, RefundFailed, now, id); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = refunded_amount - $1, updated_at = $2 WHERE id = $3`, r.Amount, now, p.ID)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refunds SET state = $1, provider_ref = $2, updated_at = $3 WHERE id = $4`,
			RefundSucceeded, res.Ref, now, id); err != nil {
			return err
		}
		remaining, err := splitRemainders(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		shares := RefundShares(r.Amount, remaining)
		for i, sh := range shares {
			if sh == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE payment_splits SET refunded = refunded + $1 WHERE payment_id = $2 AND position = $3`, sh, p.ID, i); err != nil {
				return err
			}
		}
		if _, err := s.post(ctx, tx, ReversalPosting(KindRefund, r.ID, p.ID, p.Provider, p.Currency, p.Splits, shares).Of(p.Ministry), now); err != nil {
			return err
		}
		var done int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND state = $2`, p.ID, RefundSucceeded).Scan(&done); err != nil {
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
		s.relay.Kick()
	}
	r, _, err = s.loadRefund(ctx, s.db, id)
	if err != nil {
		return Refund{}, err
	}
	if r.State == RefundFailed {
		return r, fmt.Errorf("refund %s: %w", id, ErrRefundRefused)
	}
	return r, nil
}
