package signature

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of credentials, citizens' proofing and identities, and the
// revocation lists.

// proofingLevel is the level the auth enabler's events recorded for
// citizenID ("" when none).
func proofingLevel(ctx context.Context, q store.Querier, citizenID string) (string, error) {
	var level string
	err := q.QueryRowContext(ctx, `SELECT proofing_level FROM citizen_proofing WHERE citizen_id = $1`, citizenID).Scan(&level)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	return level, nil
}

// putProofingLevel records citizen's level as of at; in person, once
// recorded, is never lowered.
func putProofingLevel(ctx context.Context, q store.Querier, citizen, level string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO citizen_proofing (citizen_id, proofing_level, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (citizen_id) DO UPDATE SET proofing_level = $2, updated_at = $3
			WHERE citizen_proofing.proofing_level <> $4`, citizen, level, at.UTC(), proofingInPerson)
	return err
}

// putIdentity records citizenID's sealed identity at level; an identity
// proofed in person is replaced only by another one proofed in person.
func putIdentity(ctx context.Context, q store.Querier, citizenID string, blob []byte, level string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO citizen_identities (citizen_id, identity_sealed, proofing_level, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (citizen_id) DO UPDATE SET identity_sealed = $2, proofing_level = $3, updated_at = $4
		WHERE citizen_identities.proofing_level <> $5 OR $3 = $5`, citizenID, blob, level, at.UTC(), proofingInPerson)
	return err
}

// sealedIdentity is citizenID's sealed identity (sql.ErrNoRows when none).
func sealedIdentity(ctx context.Context, q store.Querier, citizenID string) ([]byte, error) {
	var blob []byte
	err := q.QueryRowContext(ctx, `SELECT identity_sealed FROM citizen_identities WHERE citizen_id = $1`, citizenID).Scan(&blob)
	return blob, err
}

// markRevoked revokes active credential id; false means it was not active.
func markRevoked(ctx context.Context, q store.Querier, id string, now time.Time, reason, by string) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE credentials SET status = $1, revoked_at = $2, revocation_reason = $3, revoked_by = $4
			WHERE id = $5 AND status = $6`, StatusRevoked, now, reason, by, id, StatusActive))
}

// credentialsOf returns up to limit of owner's credentials after id
// after, in id order.
func credentialsOf(ctx context.Context, q store.Querier, owner, after string, limit int) ([]*Credential, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+credentialColumns+` FROM credentials
		WHERE owner = $1 AND id > $2 ORDER BY id LIMIT $3`, owner, after, limit)
	if err != nil {
		return nil, err
	}
	return store.CollectRows(rows, scanCredential)
}

// credentialStatus reads the status of the credential with the hex
// serial (sql.ErrNoRows when none).
func credentialStatus(ctx context.Context, q store.Querier, serial string) (status string, revokedAt sql.NullTime, reason string, err error) {
	err = q.QueryRowContext(ctx, `SELECT status, revoked_at, revocation_reason FROM credentials WHERE serial = $1`,
		serial).Scan(&status, store.ScanNullTime(&revokedAt), &reason)
	return status, revokedAt, reason, err
}

// revokedCredentials calls fn with every revoked credential, oldest
// revocation first.
func revokedCredentials(ctx context.Context, q store.Querier, fn func(serial string, at time.Time, reason string) error) error {
	rows, err := q.QueryContext(ctx, `SELECT serial, revoked_at, revocation_reason FROM credentials
		WHERE status = $1 ORDER BY revoked_at`, StatusRevoked)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var serial, reason string
		var at time.Time
		if err := rows.Scan(&serial, store.ScanTime(&at), &reason); err != nil {
			return err
		}
		if err := fn(serial, at, reason); err != nil {
			return err
		}
	}
	return rows.Err()
}

// nextCRLNumber allocates the next CRL number.
func nextCRLNumber(ctx context.Context, q store.Querier) (int64, error) {
	var number int64
	err := q.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'crl_number' RETURNING value`).Scan(&number)
	return number, err
}

// putCRL stores CRL number and drops those more than ten older.
func putCRL(ctx context.Context, q store.Querier, number int64, der []byte, thisUpdate, nextUpdate time.Time) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO crls (number, der, this_update, next_update) VALUES ($1, $2, $3, $4)`,
		number, der, thisUpdate, nextUpdate); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, `DELETE FROM crls WHERE number < $1`, number-10)
	return err
}

// latestCRL is the newest CRL (sql.ErrNoRows when none).
func latestCRL(ctx context.Context, q store.Querier) ([]byte, time.Time, error) {
	var der []byte
	var thisUpdate time.Time
	err := q.QueryRowContext(ctx, `SELECT der, this_update FROM crls ORDER BY number DESC LIMIT 1`).Scan(&der, store.ScanTime(&thisUpdate))
	return der, thisUpdate, err
}

// latestCRLUpdate returns the thisUpdate of the latest CRL (by its
// primary key); sql.ErrNoRows before the first.
func latestCRLUpdate(ctx context.Context, q store.Querier) (time.Time, error) {
	var thisUpdate time.Time
	err := q.QueryRowContext(ctx, `SELECT this_update FROM crls ORDER BY number DESC LIMIT 1`).Scan(store.ScanTime(&thisUpdate))
	return thisUpdate, err
}

// pkiExists reports whether InitPKI has stored the CA material.
func pkiExists(ctx context.Context, q store.Querier) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pki_objects`).Scan(&n)
	return n > 0, err
}
