package sandbox

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the sandbox's tables in the payment database
// (component "payment-sandbox").
func Migrations() (store.MigrationSet, error) {
	return store.LoadMigrations("payment-sandbox", migrationFiles, "migrations")
}

// The SQL of the sandbox acquirer: its charges, refunds, disputes and
// outgoing webhooks, called by sandbox.go and checkout.go inside their
// transactions.

// insertCharge stores charge id for req.PaymentID unless the payment has
// one, and returns the payment's charge id.
func insertCharge(ctx context.Context, tx *sql.Tx, id string, req provider.ChargeRequest, now time.Time) (string, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO sandbox_charges
			(id, payment_id, amount, currency, description, return_url, status, expire_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (payment_id) DO NOTHING`,
		id, req.PaymentID, req.Amount, req.Currency, req.Description, req.ReturnURL, string(provider.StatusOpen), req.ExpireAt.UTC(), now); err != nil {
		return "", err
	}
	var ref string
	err := tx.QueryRowContext(ctx, `SELECT id FROM sandbox_charges WHERE payment_id = $1`, req.PaymentID).Scan(&ref)
	return ref, err
}

// loadCharge loads charge id; an unknown one is provider.ErrUnknownCharge.
func (a *Acquirer) loadCharge(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (charge, error) {
	var c charge
	err := q.QueryRowContext(ctx, `SELECT id, payment_id, amount, currency, description, return_url, status, reason,
		card_last4, dispute, refunded, expire_at, created_at FROM sandbox_charges WHERE id = $1`, id).Scan(
		&c.ID, &c.PaymentID, &c.Amount, &c.Currency, &c.Description, &c.ReturnURL, &c.Status, &c.Reason,
		&c.Last4, &c.Dispute, &c.Refunded, store.ScanTime(&c.ExpireAt), store.ScanTime(&c.CreatedAt))
	if store.IsNoRows(err) {
		return c, fmt.Errorf("%w: %s", provider.ErrUnknownCharge, id)
	}
	return c, err
}

// setChargeStatus stores charge ref's new status.
func setChargeStatus(ctx context.Context, tx *sql.Tx, ref string, status provider.ChargeStatus) error {
	_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET status = $1 WHERE id = $2`, string(status), ref)
	return err
}

// moveCharge moves charge id from status from to to with reason, the
// card's last digits (unless last4 is "") and paidAt; false means the
// charge was not at from.
func moveCharge(ctx context.Context, tx *sql.Tx, id string, from, to provider.ChargeStatus, reason, last4 string, paidAt any) (bool, error) {
	return store.ChangedAny(tx.ExecContext(ctx, `UPDATE sandbox_charges SET status = $1, reason = $2,
			card_last4 = CASE WHEN $3 = '' THEN card_last4 ELSE $3 END, paid_at = $4
			WHERE id = $5 AND status = $6`, string(to), reason, last4, paidAt, id, string(from)))
}

// setChargeDispute records charge ref's dispute state to at at.
func setChargeDispute(ctx context.Context, tx *sql.Tx, ref, to string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET dispute = $1, disputed_at = $2 WHERE id = $3`, to, at, ref)
	return err
}

// refundOf is the sandbox's id of the refund the enabler calls refundID.
func refundOf(ctx context.Context, tx *sql.Tx, refundID string) (string, error) {
	var ref string
	err := tx.QueryRowContext(ctx, `SELECT id FROM sandbox_refunds WHERE refund_id = $1`, refundID).Scan(&ref)
	return ref, err
}

// addChargeRefund adds amount to what charge id has had refunded.
func addChargeRefund(ctx context.Context, tx *sql.Tx, id string, amount int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE sandbox_charges SET refunded = refunded + $1 WHERE id = $2`, amount, id)
	return err
}

// insertRefund stores refund id (the enabler's refundID) of amount of
// charge chargeID.
func insertRefund(ctx context.Context, tx *sql.Tx, id, refundID, chargeID string, amount int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sandbox_refunds (id, refund_id, charge_id, amount, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, refundID, chargeID, amount, now)
	return err
}

// insertWebhook stores webhook id about charge chargeID, due at once.
func insertWebhook(ctx context.Context, tx *sql.Tx, id, chargeID string, payload []byte, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sandbox_webhooks (id, charge_id, payload, created_at, next_at) VALUES ($1, $2, $3, $4, $4)`,
		id, chargeID, string(payload), now)
	return err
}

// webhooksOf lists the webhooks about charge chargeRef in the order they
// were made.
func webhooksOf(ctx context.Context, q store.Querier, chargeRef string) ([]Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, payload, delivered_at IS NOT NULL FROM sandbox_webhooks
		WHERE charge_id = $1 ORDER BY created_at, id`, chargeRef)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (Webhook, error) {
		var w Webhook
		var p string
		err := r.Scan(&w.ID, &p, &w.Delivered)
		w.Payload = []byte(p)
		return w, err
	})
}

// due is an undelivered webhook a deliverer has claimed.
type due struct {
	id, payload string
	attempts    int
	createdAt   time.Time
}

// claimWebhooks reserves for token, until leaseEnd, up to 100 undelivered
// webhooks due at now that no one else holds (or whose lease ended), and
// returns them oldest first. mine narrows the choice: the webhooks of one
// charge (chargeWebhooks) or those the sweep may take (sweepWebhooks). On
// PostgreSQL, FOR UPDATE SKIP LOCKED lets concurrent deliverers claim
// disjoint sets without waiting for each other; on SQLite, transactions
// take the write lock at BEGIN, so claims serialise. No lock is held while
// sending: the lease does that job.
func claimWebhooks(ctx context.Context, db *store.DB, token string, now, leaseEnd time.Time, mine string, arg any) ([]due, error) {
	lock := ""
	if db.Engine() == store.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE sandbox_webhooks SET claimed_by = $1, claimed_until = $2
		WHERE id IN (
			SELECT id FROM sandbox_webhooks
			WHERE delivered_at IS NULL AND next_at <= $3 AND (claimed_until IS NULL OR claimed_until < $4) AND ` + mine + `
			ORDER BY created_at, id LIMIT 100` + lock + `)
		RETURNING id, payload, attempts, created_at`
	var out []due
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, token, leaseEnd.UnixMilli(), now, now.UnixMilli(), arg)
		if err != nil {
			return err
		}
		out, err = store.CollectRows(rows, func(r store.Row) (due, error) {
			var d due
			err := r.Scan(&d.id, &d.payload, &d.attempts, store.ScanTime(&d.createdAt))
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: claim webhooks: %w", err)
	}
	slices.SortFunc(out, func(a, b due) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out, nil
}

// The choices of claimWebhooks: one charge's webhooks (the argument is the
// charge id), and those the sweep may take: tried before, or older than
// the argument (the time before which a request that made a webhook has
// had its chance to send it).
const (
	chargeWebhooks = `charge_id = $5`
	sweepWebhooks  = `(attempts > 0 OR created_at <= $5)`
)

// markDelivered records that webhook id was taken at at and ends its
// claim. It does not ask who holds the claim: the webhook is out, whoever
// holds it now.
func markDelivered(ctx context.Context, q store.Querier, id string, at time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sandbox_webhooks SET delivered_at = $1, attempts = attempts + 1,
		claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND delivered_at IS NULL`, at, id)
	return err
}

// retryWebhook counts a failed attempt of webhook id, makes it due again at
// next and ends token's claim; a claim token no longer holds (its lease
// ended and another deliverer took the webhook) changes nothing.
func retryWebhook(ctx context.Context, q store.Querier, id, token string, next time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sandbox_webhooks SET attempts = attempts + 1, next_at = $1,
		claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND claimed_by = $3 AND delivered_at IS NULL`, next, id, token)
	return err
}

// releaseWebhooks ends token's claim on the webhooks it did not get to.
func releaseWebhooks(ctx context.Context, q store.Querier, token string) error {
	_, err := q.ExecContext(ctx, `UPDATE sandbox_webhooks SET claimed_by = NULL, claimed_until = NULL
		WHERE claimed_by = $1 AND delivered_at IS NULL`, token)
	return err
}

// settlementLines are the lines settled in [from, to): charges paid,
// refunds made and disputes lost, in time order, dated from.
func settlementLines(ctx context.Context, q store.Querier, from, to time.Time) ([]provider.SettlementLine, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT 1 AS k, paid_at AS at, 'charge' AS typ, id, payment_id, id AS ref, amount, currency FROM sandbox_charges
			WHERE paid_at >= $1 AND paid_at < $2
		UNION ALL
		SELECT 2, r.created_at, 'refund', c.id, c.payment_id, r.id, -r.amount, c.currency FROM sandbox_refunds r
			JOIN sandbox_charges c ON c.id = r.charge_id WHERE r.created_at >= $1 AND r.created_at < $2
		UNION ALL
		SELECT 3, disputed_at, 'chargeback', id, payment_id, id, refunded - amount, currency FROM sandbox_charges
			WHERE dispute = 'lost' AND disputed_at >= $1 AND disputed_at < $2
		ORDER BY 2, 1, 4`, from, to)
	if err != nil {
		return nil, fmt.Errorf("sandbox: settlement report: %w", err)
	}
	out, err := store.CollectRows(rows, func(r store.Row) (provider.SettlementLine, error) {
		var (
			k  int
			at time.Time
			l  provider.SettlementLine
		)
		err := r.Scan(&k, store.ScanTime(&at), &l.Type, &l.ChargeRef, &l.PaymentID, &l.Ref, &l.Amount, &l.Currency)
		l.Date = from
		return l, err
	})
	// A chargeback of a fully refunded charge moves nothing.
	return slices.DeleteFunc(out, func(l provider.SettlementLine) bool { return l.Amount == 0 }), err
}

// insertBankMessage stores a pain.008 message the sandbox bank took and
// its camt.054 answer, unless it took that message before.
func insertBankMessage(ctx context.Context, db *store.DB, id, pain008, camt054 string, now time.Time) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO sandbox_bank_messages (id, pain008, camt054, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, id, pain008, camt054, now); err != nil {
		return fmt.Errorf("sandbox bank: store message %s: %w", id, err)
	}
	return nil
}

// bankResult reads the camt.054 answer to message id.
func bankResult(ctx context.Context, db *store.DB, id string) (string, bool, error) {
	var camt string
	err := db.QueryRowContext(ctx, `SELECT camt054 FROM sandbox_bank_messages WHERE id = $1`, id).Scan(&camt)
	if store.IsNoRows(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sandbox bank: load message %s: %w", id, err)
	}
	return camt, true, nil
}
