package payment

import (
	"context"
	"database/sql"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// The SQL of providers' notifications: the webhook events received (each
// once), and what entering a state stores beside the state itself.

// recordWebhook records notification n from providerName as received;
// false means its event id was recorded before (a replay).
func recordWebhook(ctx context.Context, tx *sql.Tx, providerName string, n provider.Notification, now time.Time) (bool, error) {
	return store.ChangedAny(tx.ExecContext(ctx, `INSERT INTO webhook_events (provider, event_id, event_type, payment_id, outcome, received_at)
			VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT (provider, event_id) DO NOTHING`, providerName, n.ID, string(n.Type), n.PaymentID, now))
}

// setWebhookOutcome records what applying event eventID did.
func setWebhookOutcome(ctx context.Context, tx *sql.Tx, providerName, eventID, outcome string) error {
	_, err := tx.ExecContext(ctx, `UPDATE webhook_events SET outcome = $1 WHERE provider = $2 AND event_id = $3`, outcome, providerName, eventID)
	return err
}

// setPaidAt records when payment id succeeded.
func setPaidAt(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE payments SET paid_at = $1 WHERE id = $2`, now, id)
	return err
}

// splitRemainders is what each split still holds (amount minus refunded).
func splitRemainders(ctx context.Context, tx *sql.Tx, paymentID string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT amount - refunded FROM payment_splits WHERE payment_id = $1 ORDER BY position`, paymentID)
	if err != nil {
		return nil, err
	}
	return store.CollectColumn[int64](rows)
}
