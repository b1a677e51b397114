package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Idempotency-Keys (the IETF idempotency-key draft, with the payments'
// semantics): a service that takes them keeps a table
//
//	idempotency_keys (client_id, scope, idem_key, request_hash, resource_id, created_at)
//	PRIMARY KEY (client_id, scope, idem_key)
//
// in its own migrations, and these functions are its only SQL.

var (
	// ErrIdempotencyKeyReused: the key is bound to another request.
	ErrIdempotencyKeyReused = errors.New("store: Idempotency-Key used for another request")
	// ErrIdempotencyKeyContended: concurrent requests kept taking over or
	// sweeping the same expired key; the request may be retried.
	ErrIdempotencyKeyContended = errors.New("store: Idempotency-Key changed concurrently")
)

// IdempotencyKey is one request's use of a key; the zero Key means none.
type IdempotencyKey struct {
	Client, Scope, Key string
	// Hash is the fingerprint of the request the key is bound to.
	Hash string
}

// NewIdempotencyKey is client's key for scope bound to the fingerprint of
// request: SHA-256 of its JSON (map keys sorted, so the same request always
// hashes the same), computed only when there is a key.
func NewIdempotencyKey(client, scope, key string, request any) IdempotencyKey {
	if key == "" {
		return IdempotencyKey{}
	}
	b, _ := json.Marshal(request)
	h := sha256.Sum256(b)
	return IdempotencyKey{Client: client, Scope: scope, Key: key, Hash: hex.EncodeToString(h[:])}
}

// storedKey is a key's row.
type storedKey struct {
	hash, id string
	at       time.Time
}

// Earlier looks the key up without a lock, before any work is done: the
// id of what an identical request made within ttl (found true), or
// ErrIdempotencyKeyReused; no key, an unused one or an expired one is not
// found. Claim, in the creating transaction, still decides races.
func (k IdempotencyKey) Earlier(ctx context.Context, q Querier, now time.Time, ttl time.Duration) (string, bool, error) {
	if k.Key == "" {
		return "", false, nil
	}
	r, found, err := k.read(ctx, q)
	if err != nil || !found || now.Sub(r.at) > ttl {
		return "", false, err
	}
	if r.hash != k.Hash {
		return "", false, ErrIdempotencyKeyReused
	}
	return r.id, true, nil
}

// claimAttempts bounds the claims a request makes while concurrent ones
// take over or sweep the same expired key.
const claimAttempts = 3

// Claim binds the key to id in tx, best as the transaction's first write,
// so that of concurrent identical requests one creates and the others find
// its id (existing true) once it commits. A key bound to another request
// is ErrIdempotencyKeyReused; one older than ttl is taken over (compare and
// swap on its time, so two requests do not both take it). Without a key it
// returns id.
func (k IdempotencyKey) Claim(ctx context.Context, tx *sql.Tx, id string, now time.Time, ttl time.Duration) (string, bool, error) {
	if k.Key == "" {
		return id, false, nil
	}
	for range claimAttempts {
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (client_id, scope, idem_key, request_hash, resource_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id, scope, idem_key) DO NOTHING`, k.Client, k.Scope, k.Key, k.Hash, id, now)
		if err != nil {
			return "", false, fmt.Errorf("claim idempotency key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return id, false, err
		}
		r, found, err := k.read(ctx, tx)
		switch {
		case err != nil:
			return "", false, err
		case !found:
			continue // swept meanwhile: claim it again
		case now.Sub(r.at) > ttl:
			res, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET request_hash = $1, resource_id = $2, created_at = $3
WHERE client_id = $4 AND scope = $5 AND idem_key = $6 AND created_at = $7`, k.Hash, id, now, k.Client, k.Scope, k.Key, r.at)
			if err != nil {
				return "", false, fmt.Errorf("renew idempotency key: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return id, false, err
			}
			continue // another request took it over first: look again
		case r.hash != k.Hash:
			return "", false, ErrIdempotencyKeyReused
		}
		return r.id, true, nil
	}
	return "", false, ErrIdempotencyKeyContended
}

func (k IdempotencyKey) read(ctx context.Context, q Querier) (storedKey, bool, error) {
	var r storedKey
	err := q.QueryRowContext(ctx, `SELECT request_hash, resource_id, created_at FROM idempotency_keys
WHERE client_id = $1 AND scope = $2 AND idem_key = $3`, k.Client, k.Scope, k.Key).Scan(&r.hash, &r.id, ScanTime(&r.at))
	if errors.Is(err, sql.ErrNoRows) {
		return storedKey{}, false, nil
	}
	if err != nil {
		return storedKey{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return r, true, nil
}

// PruneIdempotencyKeys deletes the keys claimed before before (an expired
// key and no key mean the same to a request) and returns how many.
func PruneIdempotencyKeys(ctx context.Context, q Querier, before time.Time) (int, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: prune idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
