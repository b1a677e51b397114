package notification

import (
	"context"
	"database/sql"
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

// newIdempotency is client's key for scope bound to the fingerprint of
// request (store.NewIdempotencyKey; the zero key means none).
func newIdempotency(client, scope, key string, request any) store.IdempotencyKey {
	return store.NewIdempotencyKey(client, scope, key, request)
}

// earlier looks the key up before any work is done (store's Earlier): the
// id of what an identical request made within the TTL (found true), or
// ErrIdempotencyMismatch. Answering from here keeps a retry from being
// refused by limits its first attempt filled, or rendered again from a
// newer template.
func (s *Service) earlier(ctx context.Context, idem store.IdempotencyKey) (string, bool, error) {
	id, found, err := idem.Earlier(ctx, s.DB, s.nowUTC(), s.cfg.IdempotencyTTL)
	return id, found, idempotencyError(err)
}

// claim binds the key to id in tx, as the transaction's first write
// (store's Claim): of concurrent identical requests one creates and the
// others find its id (existing true) once it commits.
func (s *Service) claim(ctx context.Context, tx *sql.Tx, idem store.IdempotencyKey, id string) (string, bool, error) {
	got, existing, err := idem.Claim(ctx, tx, id, s.nowUTC(), s.cfg.IdempotencyTTL)
	return got, existing, idempotencyError(err)
}

// claimTx runs work in one transaction that first claims idem for id.
// When an identical request with the key won the race, work does not run
// and existing is what that request made. A refused limit, an idempotency
// mismatch or a conflict comes back as it is; other errors say what
// failed.
func (s *Service) claimTx(ctx context.Context, what string, idem store.IdempotencyKey, id string,
	work func(tx *sql.Tx) error) (existing string, err error) {
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		got, dup, err := s.claim(ctx, tx, idem, id)
		if err != nil || dup {
			existing = got
			return err
		}
		return work(tx)
	})
	var le *LimitError
	switch {
	case err == nil:
		return existing, nil
	case errors.As(err, &le):
		return "", le
	case errors.Is(err, ErrIdempotencyMismatch), errors.Is(err, rpcerr.ErrConflict):
		return "", err
	}
	return "", fmt.Errorf("notification: %s: %w", what, err)
}

// idempotencyError is store's answer in this service's errors.
func idempotencyError(err error) error {
	switch {
	case errors.Is(err, store.ErrIdempotencyKeyReused):
		return ErrIdempotencyMismatch
	case errors.Is(err, store.ErrIdempotencyKeyContended):
		return fmt.Errorf("idempotency key changed concurrently; retry: %w", rpcerr.ErrConflict)
	}
	return err
}

// pruneIdempotencyKeys deletes the keys older than the TTL and returns how
// many.
func (s *Service) pruneIdempotencyKeys(ctx context.Context) (int, error) {
	n, err := store.PruneIdempotencyKeys(ctx, s.DB, s.nowUTC().Add(-s.cfg.IdempotencyTTL))
	if err != nil {
		return 0, fmt.Errorf("notification: %w", err)
	}
	return n, nil
}

// newNotificationID is a fresh notification id.
func (s *Service) newNotificationID() (string, error) {
	return store.NewIDFrom(s.Rand, "ntf_")
}
