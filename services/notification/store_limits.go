package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of rate limits and metering: counts of recent notifications,
// and the daily usage rows.

// countSinceMidnight counts client's notifications created at or after
// midnight.
func countSinceMidnight(ctx context.Context, q store.Querier, client string, midnight time.Time) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE client_id = $1 AND created_at >= $2`,
		client, midnight).Scan(&n)
	return n, err
}

// countSince counts rows matching where (with $1 = key) created after
// since, looking at no more than limit of them, and returns the oldest of
// the newest limit rows: when it leaves the window there is room again.
func countSince(ctx context.Context, q store.Querier, where, key string, since time.Time, limit int) (int, time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT created_at FROM notifications WHERE `+where+` AND created_at > $2
ORDER BY created_at DESC LIMIT $3`, key, since, limit)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("notification: count: %w", err)
	}
	defer rows.Close()
	var (
		n      int
		oldest time.Time
	)
	for rows.Next() {
		if err := rows.Scan(store.ScanTime(&oldest)); err != nil {
			return 0, time.Time{}, err
		}
		n++
	}
	return n, oldest, rows.Err()
}

// addUsage counts one message of segments segments to client's usage of
// channel to country on day.
func addUsage(ctx context.Context, q store.Querier, client, day, channel, country string, segments int) error {
	_, err := q.ExecContext(ctx, `INSERT INTO usage_daily (client_id, day, channel, country, messages, segments)
VALUES ($1, $2, $3, $4, 1, $5)
ON CONFLICT (client_id, day, channel, country) DO UPDATE SET
	messages = usage_daily.messages + 1, segments = usage_daily.segments + excluded.segments`,
		client, day, channel, country, segments)
	return err
}

// usageRows returns the metering rows of clientID (all clients when empty)
// for the UTC days from..to inclusive.
func usageRows(ctx context.Context, q store.Querier, clientID, from, to string) ([]Usage, error) {
	rows, err := q.QueryContext(ctx, `SELECT client_id, day, channel, country, messages, segments FROM usage_daily
WHERE ($1 = '' OR client_id = $1) AND day >= $2 AND day <= $3 ORDER BY client_id, day, channel, country`, clientID, from, to)
	if err != nil {
		return nil, fmt.Errorf("notification: usage: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (Usage, error) {
		var u Usage
		err := r.Scan(&u.ClientID, &u.Day, &u.Channel, &u.Country, &u.Messages, &u.Segments)
		return u, err
	})
}
