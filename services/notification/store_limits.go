package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of rate limits and metering: the limits' counters (one row per
// limit and key, holding its current window) and the daily usage rows.

// readLimitCounter reads the counter of scope and key by its primary key:
// its count and the start of the window it counts; found is false when
// there is none.
func readLimitCounter(ctx context.Context, q store.Querier, scope, key string) (n int, windowStart time.Time, found bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT count, window_start FROM limit_counters WHERE scope = $1 AND key = $2`, scope, key).
		Scan(&n, store.ScanTime(&windowStart))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, false, nil
	}
	return n, windowStart, err == nil, err
}

// addLimitCounter adds add to the counter of scope and key and returns its
// new count and window start. A window that started at or before closedBy
// is over: the counter then starts again at add in the window beginning at
// start. One upsert, one row, locked until the transaction ends.
func addLimitCounter(ctx context.Context, q store.Querier, scope, key string, start, closedBy time.Time, add int) (n int, windowStart time.Time, err error) {
	err = q.QueryRowContext(ctx, `INSERT INTO limit_counters (scope, key, window_start, count) VALUES ($1, $2, $3, $4)
ON CONFLICT (scope, key) DO UPDATE SET
	window_start = CASE WHEN limit_counters.window_start <= $5 THEN excluded.window_start ELSE limit_counters.window_start END,
	count = CASE WHEN limit_counters.window_start <= $5 THEN excluded.count ELSE limit_counters.count + excluded.count END
RETURNING count, window_start`, scope, key, start, add, closedBy).Scan(&n, store.ScanTime(&windowStart))
	return n, windowStart, err
}

// closedLimitCounters returns up to limit keys of scope whose window
// started at or before closedBy, and so is over.
func closedLimitCounters(ctx context.Context, q store.Querier, scope string, closedBy time.Time, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key FROM limit_counters WHERE scope = $1 AND window_start <= $2 LIMIT $3`, scope, closedBy, limit)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, func(r store.Row) (string, error) {
		var k string
		err := r.Scan(&k)
		return k, err
	})
}

// deleteLimitCounter deletes the counter of scope and key if its window is
// still over (a send may have opened a new one since it was listed).
func deleteLimitCounter(ctx context.Context, q store.Querier, scope, key string, closedBy time.Time) error {
	_, err := q.ExecContext(ctx, `DELETE FROM limit_counters WHERE scope = $1 AND key = $2 AND window_start <= $3`, scope, key, closedBy)
	return err
}

// addUsage counts message msg, of segments segments, to client's usage of
// channel to country on day, in msg's shard of that key.
func addUsage(ctx context.Context, q store.Querier, msg, client, day, channel, country string, segments int) error {
	_, err := q.ExecContext(ctx, `INSERT INTO usage_daily (client_id, day, channel, country, shard, messages, segments)
VALUES ($1, $2, $3, $4, $5, 1, $6)
ON CONFLICT (client_id, day, channel, country, shard) DO UPDATE SET
	messages = usage_daily.messages + 1, segments = usage_daily.segments + excluded.segments`,
		client, day, channel, country, counterShard(msg), segments)
	return err
}

// usageRows returns the metering rows of clientID (all clients when empty)
// for the UTC days from..to inclusive.
func usageRows(ctx context.Context, q store.Querier, clientID, from, to string) ([]Usage, error) {
	rows, err := q.QueryContext(ctx, `SELECT client_id, day, channel, country, SUM(messages), SUM(segments) FROM usage_daily
WHERE ($1 = '' OR client_id = $1) AND day >= $2 AND day <= $3
GROUP BY client_id, day, channel, country ORDER BY client_id, day, channel, country`, clientID, from, to)
	if err != nil {
		return nil, fmt.Errorf("notification: usage: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (Usage, error) {
		var u Usage
		err := r.Scan(&u.ClientID, &u.Day, &u.Channel, &u.Country, &u.Messages, &u.Segments)
		return u, err
	})
}
