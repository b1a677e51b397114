package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of refunds: reserving the amount on the payment, the refund row
// and its settlement. refunds.go calls these inside its transactions.

// reserveRefund takes amount of locked payment p for refund id and stores
// the refund as pending.
func reserveRefund(ctx context.Context, tx *sql.Tx, id string, p Payment, amount int64, reason string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = refunded_amount + $1, updated_at = $2 WHERE id = $3`,
		amount, now, p.ID); err != nil {
		return fmt.Errorf("reserve refund: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, payment_id, amount, currency, state, reason, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, id, p.ID, amount, string(p.Currency), RefundPending, reason, now)
	return err
}

// loadRefund loads refund id and the client of its payment.
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

// refundState is refund id's state.
func refundState(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var st string
	err := tx.QueryRowContext(ctx, `SELECT state FROM refunds WHERE id = $1`, id).Scan(&st)
	return st, err
}

// failRefund marks refund id failed and gives its amount back to payment
// paymentID.
func failRefund(ctx context.Context, tx *sql.Tx, id, paymentID string, amount int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refunds SET state = $1, updated_at = $2 WHERE id = $3`, RefundFailed, now, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = refunded_amount - $1, updated_at = $2 WHERE id = $3`, amount, now, paymentID)
	return err
}

// succeedRefund marks refund id succeeded with the acquirer's reference.
func succeedRefund(ctx context.Context, tx *sql.Tx, id, ref string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE refunds SET state = $1, provider_ref = $2, updated_at = $3 WHERE id = $4`,
		RefundSucceeded, ref, now, id)
	return err
}

// refundSplits adds each share to what its split of payment paymentID has
// had refunded (shares in split order; zero shares are skipped).
func refundSplits(ctx context.Context, tx *sql.Tx, paymentID string, shares []int64) error {
	for i, sh := range shares {
		if sh == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payment_splits SET refunded = refunded + $1 WHERE payment_id = $2 AND position = $3`, sh, paymentID, i); err != nil {
			return err
		}
	}
	return nil
}

// refundedTotal is the sum of payment paymentID's succeeded refunds.
func refundedTotal(ctx context.Context, tx *sql.Tx, paymentID string) (int64, error) {
	var done int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND state = $2`, paymentID, RefundSucceeded).Scan(&done)
	return done, err
}
