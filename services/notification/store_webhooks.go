package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of outbound webhooks: endpoints, deliveries and their attempts,
// and the payments' owners. Every read of an endpoint or delivery names
// the calling client, so that another client's id reads as not found.

const endpointColumns = `id, client_id, url, events, secret_salt, previous_salt, previous_expires_at, rotated_at, created_at`

func scanEndpoint(r store.Row) (webhookEndpointRow, error) {
	var e webhookEndpointRow
	var events string
	var prevExp, rotated sql.NullTime
	err := r.Scan(&e.ID, &e.ClientID, &e.URL, &events, &e.salt, &e.previousSalt, &prevExp, &rotated, &e.CreatedAt)
	e.Events = strings.Fields(events)
	e.PreviousExpiresAt, e.RotatedAt = prevExp.Time, rotated.Time
	return e, err
}

func insertEndpoint(ctx context.Context, q store.Querier, e webhookEndpointRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, client_id, url, events, secret_salt, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, e.ClientID, e.URL, strings.Join(e.Events, " "), e.salt, e.CreatedAt)
	return err
}

// getEndpoint reads client's endpoint id; the error wraps
// rpcerr.ErrNotFound when client has none by that id.
func getEndpoint(ctx context.Context, q store.Querier, client, id string) (webhookEndpointRow, error) {
	e, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 AND client_id = $2`, id, client))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("webhook endpoint %q: %w", id, rpcerr.ErrNotFound)
	}
	return e, err
}

// listEndpoints reads client's endpoints, oldest first.
func listEndpoints(ctx context.Context, q store.Querier, client string) ([]webhookEndpointRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE client_id = $1 ORDER BY created_at, id`, client)
	if err != nil {
		return nil, fmt.Errorf("notification: webhook endpoints: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (webhookEndpointRow, error) { return scanEndpoint(r) })
}

// deleteEndpoint deletes client's endpoint id with its deliveries.
func deleteEndpoint(ctx context.Context, q store.Querier, client, id string) (bool, error) {
	if _, err := q.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE delivery_id IN
(SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.id = $1 AND e.client_id = $2)`, id, client); err != nil {
		return false, err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id IN
(SELECT id FROM webhook_endpoints WHERE id = $1 AND client_id = $2)`, id, client); err != nil {
		return false, err
	}
	return store.ChangedOne(q.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND client_id = $2`, id, client))
}

// rotateEndpoint makes salt the endpoint's secret salt, keeping the
// current one as the previous until expires.
func rotateEndpoint(ctx context.Context, q store.Querier, e webhookEndpointRow, salt string, now, expires time.Time) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE webhook_endpoints SET previous_salt = secret_salt, secret_salt = $1,
previous_expires_at = $2, rotated_at = $3 WHERE id = $4 AND client_id = $5 AND secret_salt = $6`,
		salt, expires, now, e.ID, e.ClientID, e.salt))
}

// rememberPayment records which client payment belongs to.
func rememberPayment(ctx context.Context, q store.Querier, payment, client string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_payments (payment_id, client_id) VALUES ($1, $2)
ON CONFLICT (payment_id) DO NOTHING`, payment, client)
	return err
}

// paymentClient returns the client of payment, "" when it is unknown.
func paymentClient(ctx context.Context, q store.Querier, payment string) (string, error) {
	var c string
	err := q.QueryRowContext(ctx, `SELECT client_id FROM webhook_payments WHERE payment_id = $1`, payment).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return c, err
}

const deliveryColumns = `id, endpoint_id, event_id, event_type, body, state, attempts, next_at, replay_of, created_at`

func scanDelivery(r store.Row) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := r.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.body, &d.State, &d.AttemptCount, &d.NextAt, &d.ReplayOf, &d.CreatedAt)
	return d, err
}

func insertDelivery(ctx context.Context, q store.Querier, d WebhookDelivery) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, state, attempts, next_at, replay_of, created_at)
VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $7)`, d.ID, d.EndpointID, d.EventID, d.EventType, d.body, deliveryPending, d.CreatedAt, d.ReplayOf)
	return err
}

// getDelivery reads delivery id of client's endpoint.
func getDelivery(ctx context.Context, q store.Querier, client, endpoint, id string) (WebhookDelivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT d.`+strings.ReplaceAll(deliveryColumns, ", ", ", d.")+` FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 AND d.endpoint_id = $2 AND e.client_id = $3`, id, endpoint, client))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("webhook delivery %q: %w", id, rpcerr.ErrNotFound)
	}
	return d, err
}

// listDeliveries reads a page of endpoint's deliveries, newest first,
// after the keyset position (afterTime, afterID).
func listDeliveries(ctx context.Context, q store.Querier, endpoint string, afterTime time.Time, afterID string, limit int) ([]WebhookDelivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE endpoint_id = $1
AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4`, endpoint, afterTime, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("notification: webhook deliveries: %w", err)
	}
	return store.CollectRows(rows, scanDelivery)
}

// listAttempts reads delivery's attempts in order.
func listAttempts(ctx context.Context, q store.Querier, delivery string) ([]WebhookAttempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT at, status_code, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt`, delivery)
	if err != nil {
		return nil, fmt.Errorf("notification: webhook attempts: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (WebhookAttempt, error) {
		var a WebhookAttempt
		err := r.Scan(&a.Time, &a.StatusCode, &a.Error)
		return a, err
	})
}

// dueWebhook is a pending delivery whose time has come, with what signing
// it needs from its endpoint.
type dueWebhook struct {
	dueDelivery
	endpoint, salt, previousSalt string
	previousExpires              time.Time
}

// dueWebhooks reads a batch of the pending deliveries due at now.
func dueWebhooks(ctx context.Context, q store.Querier, now time.Time) ([]dueWebhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.id, d.body, d.attempts, e.client_id, e.id, e.url, e.secret_salt, e.previous_salt, e.previous_expires_at
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.state = $1 AND d.next_at <= $2 ORDER BY d.next_at LIMIT $3`, deliveryPending, now, deliveryBatch)
	if err != nil {
		return nil, fmt.Errorf("notification: due webhooks: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (dueWebhook, error) {
		var d dueWebhook
		var prev sql.NullTime
		err := r.Scan(&d.id, &d.body, &d.attempts, &d.client, &d.endpoint, &d.url, &d.salt, &d.previousSalt, &prev)
		d.previousExpires = prev.Time
		return d, err
	})
}

// insertAttempt logs attempt number n of delivery id and its outcome.
func insertAttempt(ctx context.Context, q store.Querier, id string, n int, a WebhookAttempt) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error) VALUES ($1, $2, $3, $4, $5)`,
		id, n, a.Time, a.StatusCode, a.Error)
	return err
}
