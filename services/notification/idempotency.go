package notification

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// Idempotency-Keys make a client's sends safe to retry, with the payments'
// semantics: the same client, key and request within
// Config.IdempotencyTTL give the same notification or bulk job (however
// many arrive at once), and the key with another request is refused. A
// ministry whose request was cut after Tamkeen accepted it retries without
// sending a citizen two messages.

// ErrIdempotencyMismatch: the Idempotency-Key was used before with a
// different request (HTTP 422, reason IDEMPOTENCY_KEY_REUSED).
var ErrIdempotencyMismatch = errors.New("this Idempotency-Key was already used with a different request")

// ReasonIdempotencyKeyReused is the ErrorInfo reason of a reused
// Idempotency-Key; the payment service's (payment.ReasonIdempotencyKeyReused)
// too, which the gateway answers with 422.
const ReasonIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"

// Idempotency scopes: a key is one client's per route, so the same key on
// an SMS send and an e-mail send are two keys.
const (
	scopeSendSMS       = "send_sms"
	scopeSendEmail     = "send_email"
	scopeCreateBulkJob = "create_bulk_job"
)

// maxIdempotencyKey bounds a key, as payments do.
const maxIdempotencyKey = 255

// checkIdempotencyKey refuses a key that is not 1..255 visible ASCII
// characters (or empty: no key).
func checkIdempotencyKey(k string) error {
	if len(k) > maxIdempotencyKey || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return &rpcerr.FieldError{Field: "idempotency_key", Reason: "at most 255 visible ASCII characters", Code: "idempotency_key.format"}
	}
	return nil
}

// requestHash is the fingerprint a key is bound to: SHA-256 of v's JSON
// (map keys sorted, so the same request always hashes the same).
func requestHash(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// idempotency is one request's use of a key; the zero key means none.
type idempotency struct {
	client, scope, key, hash string
}

// newIdempotency is client's key for scope bound to the fingerprint of
// request (computed only when there is a key).
func newIdempotency(client, scope, key string, request any) idempotency {
	if key == "" {
		return idempotency{}
	}
	return idempotency{client: client, scope: scope, key: key, hash: requestHash(request)}
}

// earlier looks the key up before any work is done: it returns the id of
// what an identical request made within the TTL (found true), or
// ErrIdempotencyMismatch; no key, an unused one or an expired one is not
// found. Answering from here keeps a retry from being refused by limits
// its first attempt filled, or rendered again from a newer template.
func (s *Service) earlier(ctx context.Context, idem idempotency) (string, bool, error) {
	if idem.key == "" {
		return "", false, nil
	}
	k, found, err := readIdempotencyKey(ctx, s.DB, idem.client, idem.scope, idem.key)
	if err != nil || !found || s.nowUTC().Sub(k.createdAt) > s.cfg.IdempotencyTTL {
		return "", false, err
	}
	if k.hash != idem.hash {
		return "", false, ErrIdempotencyMismatch
	}
	return k.id, true, nil
}

// claimAttempts bounds the claims a request makes while concurrent ones
// take over or sweep the same expired key.
const claimAttempts = 3

// claim binds the key to id in tx, as the transaction's first write, so
// that of concurrent identical requests one creates and the others find
// its id (existing true) once it commits; a key bound to another request
// is ErrIdempotencyMismatch, and one older than the TTL is taken over.
// Without a key it returns id.
func (s *Service) claim(ctx context.Context, tx *sql.Tx, idem idempotency, id string) (string, bool, error) {
	if idem.key == "" {
		return id, false, nil
	}
	now := s.nowUTC()
	mine := idemKey{hash: idem.hash, id: id, createdAt: now}
	for range claimAttempts {
		ok, err := insertIdempotencyKey(ctx, tx, idem.client, idem.scope, idem.key, mine)
		if err != nil || ok {
			return id, false, err
		}
		k, found, err := readIdempotencyKey(ctx, tx, idem.client, idem.scope, idem.key)
		switch {
		case err != nil:
			return "", false, err
		case !found:
			// Swept meanwhile: claim it again.
			continue
		case now.Sub(k.createdAt) > s.cfg.IdempotencyTTL:
			ok, err := takeOverIdempotencyKey(ctx, tx, idem.client, idem.scope, idem.key, k.createdAt, mine)
			if err != nil || ok {
				return id, false, err
			}
			// Another request took it over first: look again.
			continue
		case k.hash != idem.hash:
			return "", false, ErrIdempotencyMismatch
		}
		return k.id, true, nil
	}
	return "", false, fmt.Errorf("idempotency key changed concurrently; retry: %w", rpcerr.ErrConflict)
}

// pruneIdempotencyKeys deletes the keys older than the TTL (an expired key
// and no key mean the same to a request) and returns how many.
func (s *Service) pruneIdempotencyKeys(ctx context.Context) (int, error) {
	return deleteIdempotencyKeys(ctx, s.DB, s.nowUTC().Add(-s.cfg.IdempotencyTTL))
}

// newNotificationID is a fresh notification id.
func (s *Service) newNotificationID() (string, error) {
	return store.NewIDFrom(s.Rand, "ntf_")
}
