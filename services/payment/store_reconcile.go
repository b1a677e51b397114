package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of reconciliation: what the ledger says a settlement report
// should hold, and the stored result of each run.

// insertReconciliation stores the result of one run, report being rec as
// JSON.
func insertReconciliation(ctx context.Context, tx *sql.Tx, rec Reconciliation, clientID string, report []byte, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO reconciliations (id, client_id, provider, day, matched, report, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, rec.ID, clientID, rec.Provider, rec.Date, rec.Matched, string(report), now)
	return err
}

// paymentOf reports whether paymentID is a payment of ministry.
func paymentOf(ctx context.Context, tx *sql.Tx, paymentID, ministry string) (bool, error) {
	if paymentID == "" {
		return false, nil
	}
	var m string
	err := tx.QueryRowContext(ctx, `SELECT ministry FROM payments WHERE id = $1`, paymentID).Scan(&m)
	if store.IsNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reconcile: payment %s: %w", paymentID, err)
	}
	return m == ministry, nil
}

// ledgerItems are the day's captures, refunds and lost disputes of the
// provider (of view's ministry's payments only, unless view is all),
// keyed as report lines are ("charge:<charge id>", …), with the signed
// amount the report should show.
func ledgerItems(ctx context.Context, tx *sql.Tx, providerName string, from, to time.Time, view LedgerView) (map[string]ledgerItem, error) {
	out := map[string]ledgerItem{}
	ministry := view.Ministry
	if view.All {
		ministry = ""
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT 'charge', p.id, p.provider_ref, p.amount, p.currency, p.ministry FROM ledger_transactions t JOIN payments p ON p.id = t.ref
			WHERE t.kind = 'capture' AND p.provider = $1 AND t.posted_at >= $2 AND t.posted_at < $3 AND ($4 = '' OR p.ministry = $4)
		UNION ALL
		SELECT 'refund', p.id, r.provider_ref, -r.amount, r.currency, p.ministry FROM ledger_transactions t
			JOIN refunds r ON r.id = t.ref JOIN payments p ON p.id = r.payment_id
			WHERE t.kind = 'refund' AND p.provider = $1 AND t.posted_at >= $2 AND t.posted_at < $3 AND ($4 = '' OR p.ministry = $4)
		UNION ALL
		SELECT 'chargeback', p.id, p.provider_ref,
			-(SELECT SUM(e.debit) FROM ledger_entries e WHERE e.transaction_id = t.id), p.currency, p.ministry
			FROM ledger_transactions t JOIN payments p ON p.id = t.ref
			WHERE t.kind = 'dispute_lost' AND p.provider = $1 AND t.posted_at >= $2 AND t.posted_at < $3 AND ($4 = '' OR p.ministry = $4)`,
		providerName, from, to, ministry)
	if err != nil {
		return nil, fmt.Errorf("reconcile: ledger items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var li ledgerItem
		if err := rows.Scan(&li.Kind, &li.PaymentID, &li.ProviderRef, &li.LedgerAmount, &li.Currency, &li.ministry); err != nil {
			return nil, err
		}
		li.key = li.Kind + ":" + li.ProviderRef
		out[li.key] = li
	}
	return out, rows.Err()
}
