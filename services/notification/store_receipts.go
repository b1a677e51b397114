package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of delivery receipts: the provider's id of each SMS part, and
// the receipts, which may arrive before the parts are recorded.

// insertSMSPart records that provider's message id is part of
// notification n.
func insertSMSPart(ctx context.Context, q store.Querier, n Notification, id string, part int) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sms_parts (provider, message_id, notification_id, part)
VALUES ($1, $2, $3, $4) ON CONFLICT (provider, message_id) DO NOTHING`, n.Provider, id, n.ID, part)
	return err
}

// upsertReceipt stores provider's receipt r, received at now, over any
// earlier one for the same message.
func upsertReceipt(ctx context.Context, q store.Querier, provider string, r Receipt, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sms_receipts (provider, message_id, state, received_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (provider, message_id) DO UPDATE SET state = excluded.state, received_at = excluded.received_at`, provider, r.MessageID, r.State, now)
	return err
}

// partNotification returns the id of the notification that provider's
// message id is a part of; the error is sql.ErrNoRows when none is known.
func partNotification(ctx context.Context, q store.Querier, provider, messageID string) (string, error) {
	var nid string
	err := q.QueryRowContext(ctx, `SELECT notification_id FROM sms_parts WHERE provider = $1 AND message_id = $2`, provider, messageID).Scan(&nid)
	return nid, err
}

// partStates returns the receipt state of each part of notification id
// ("" for a part without a receipt yet), and closes the rows before it
// returns.
func partStates(ctx context.Context, q store.Querier, id string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT COALESCE(r.state, '') FROM sms_parts p
LEFT JOIN sms_receipts r ON r.provider = p.provider AND r.message_id = p.message_id
WHERE p.notification_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("notification: receipts of %s: %w", id, err)
	}
	return store.CollectColumn[string](rows)
}

// putCitizenPhone records phone as citizen's verified number as of at,
// unless a later verification is already recorded.
func putCitizenPhone(ctx context.Context, q store.Querier, citizen, phone string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO citizen_phones (citizen_id, phone_number, verified_at) VALUES ($1, $2, $3)
ON CONFLICT (citizen_id) DO UPDATE SET phone_number = excluded.phone_number, verified_at = excluded.verified_at
WHERE citizen_phones.verified_at <= excluded.verified_at`, citizen, phone, store.Stamp(at))
	return err
}

// citizenPhone returns citizen's verified number; the error is
// sql.ErrNoRows when none is known.
func citizenPhone(ctx context.Context, q store.Querier, citizen string) (string, error) {
	var phone string
	err := q.QueryRowContext(ctx, `SELECT phone_number FROM citizen_phones WHERE citizen_id = $1`, citizen).Scan(&phone)
	return phone, err
}
