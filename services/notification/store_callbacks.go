package notification

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of status callbacks: the queue of POSTs to clients, claimed by
// one replica at a time and retried with back-off.

// insertCallback queues callback id of notification n to url with body,
// due at n's update time.
func insertCallback(ctx context.Context, q store.Querier, id string, n Notification, url string, body []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO callbacks (id, client_id, notification_id, url, body, attempts, state, next_at, created_at)
VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7)`, id, n.ClientID, n.ID, url, string(body), callbackPending, n.UpdatedAt)
	return err
}

// dueCallback is one pending callback whose time has come.
type dueCallback struct {
	id, client, url, body string
	attempts              int
	nextAt                time.Time
}

// dueCallbacks reads a batch of the pending callbacks due at now, and
// closes the rows before it returns.
func dueCallbacks(ctx context.Context, q store.Querier, now time.Time) ([]dueCallback, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, client_id, url, body, attempts, next_at FROM callbacks
WHERE state = $1 AND next_at <= $2 ORDER BY next_at LIMIT $3`, callbackPending, now, callbackBatch)
	if err != nil {
		return nil, fmt.Errorf("notification: due callbacks: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (dueCallback, error) {
		var d dueCallback
		var next sql.NullTime
		err := r.Scan(&d.id, &d.client, &d.url, &d.body, &d.attempts, &next)
		d.nextAt = next.Time
		return d, err
	})
}

// claimCallback moves d's next time to until if no other replica changed
// it since it was read, and reports whether it did.
func claimCallback(ctx context.Context, q store.Querier, d dueCallback, until time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE callbacks SET next_at = $1 WHERE id = $2 AND state = $3 AND attempts = $4`,
		until, d.id, callbackPending, d.attempts)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// updateCallback records callback id's state, attempts and next time.
func updateCallback(ctx context.Context, q store.Querier, id, state string, attempts int, next time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE callbacks SET state = $1, attempts = $2, next_at = $3 WHERE id = $4`,
		state, attempts, next, id)
	return err
}
