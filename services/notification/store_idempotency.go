package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of Idempotency-Keys: one row per (client, scope, key) holding the
// fingerprint of the request that claimed it and the id of what it made.
// The payment service keeps its keys the same way (store_payments.go).

// idemKey is a stored key: the fingerprint it is bound to, the id of the
// notification or bulk job, and when it was claimed.
type idemKey struct {
	hash      string
	id        string
	createdAt time.Time
}

// readIdempotencyKey reads client's key of scope; found is false when there
// is none.
func readIdempotencyKey(ctx context.Context, q store.Querier, client, scope, key string) (k idemKey, found bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT request_hash, resource_id, created_at FROM idempotency_keys
WHERE client_id = $1 AND scope = $2 AND idem_key = $3`, client, scope, key).Scan(&k.hash, &k.id, store.ScanTime(&k.createdAt))
	if errors.Is(err, sql.ErrNoRows) {
		return idemKey{}, false, nil
	}
	if err != nil {
		return idemKey{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return k, true, nil
}

// insertIdempotencyKey claims client's key of scope for k unless a row is
// there; it reports whether it claimed it. On PostgreSQL a concurrent
// claim of the same key waits here until the first one's transaction ends.
func insertIdempotencyKey(ctx context.Context, tx *sql.Tx, client, scope, key string, k idemKey) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (client_id, scope, idem_key, request_hash, resource_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id, scope, idem_key) DO NOTHING`, client, scope, key, k.hash, k.id, k.createdAt)
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// takeOverIdempotencyKey rebinds an expired key to k if it still holds the
// claim old read (compare and swap on created_at), and reports whether it
// did: two requests that find the same expired key do not both take it.
func takeOverIdempotencyKey(ctx context.Context, tx *sql.Tx, client, scope, key string, old time.Time, k idemKey) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET request_hash = $1, resource_id = $2, created_at = $3
WHERE client_id = $4 AND scope = $5 AND idem_key = $6 AND created_at = $7`, k.hash, k.id, k.createdAt, client, scope, key, old)
	if err != nil {
		return false, fmt.Errorf("renew idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// deleteIdempotencyKeys deletes the keys claimed before claimedBefore and
// returns how many.
func deleteIdempotencyKeys(ctx context.Context, q store.Querier, claimedBefore time.Time) (int, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, claimedBefore)
	if err != nil {
		return 0, fmt.Errorf("notification: prune idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
