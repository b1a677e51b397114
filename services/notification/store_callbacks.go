package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of status callbacks: the queue of POSTs to clients (claimed and
// settled by store_deliveries.go).

// insertCallback queues callback id of notification n to url with body,
// due at n's update time.
func insertCallback(ctx context.Context, q store.Querier, id string, n Notification, url string, body []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO callbacks (id, client_id, notification_id, url, body, attempts, state, next_at, created_at)
VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7)`, id, n.ClientID, n.ID, url, string(body), deliveryPending, n.UpdatedAt)
	return err
}

// dueCallbacks reads a batch of the pending callbacks due at now, and
// closes the rows before it returns.
func dueCallbacks(ctx context.Context, q store.Querier, now time.Time) ([]dueDelivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, client_id, url, body, attempts FROM callbacks
WHERE state = $1 AND next_at <= $2 ORDER BY next_at LIMIT $3`, deliveryPending, now, deliveryBatch)
	if err != nil {
		return nil, fmt.Errorf("notification: due callbacks: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (dueDelivery, error) {
		var d dueDelivery
		err := r.Scan(&d.id, &d.client, &d.url, &d.body, &d.attempts)
		return d, err
	})
}
