package signature

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of signing: the CA's objects, SADs, signatures and counters.

// pkiObjects calls fn with each stored CA object and its certificate's DER.
func pkiObjects(ctx context.Context, q store.Querier, fn func(o pkiObject, der []byte) error) error {
	rows, err := q.QueryContext(ctx, `SELECT name, cert_der, key_store, key_ref, key_sealed FROM pki_objects`)
	if err != nil {
		return fmt.Errorf("read PKI: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o pkiObject
		var der []byte
		if err := rows.Scan(&o.name, &der, &o.keyStore, &o.keyRef, &o.sealed); err != nil {
			return err
		}
		if err := fn(o, der); err != nil {
			return err
		}
	}
	return rows.Err()
}

// insertPKIObject stores one CA object made at created.
func insertPKIObject(ctx context.Context, q store.Querier, o pkiObject, created time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO pki_objects (name, cert_der, key_store, key_ref, key_sealed, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, o.name, o.cert.Raw, o.keyStore, o.keyRef, o.sealed, created)
	return err
}

// insertSAD stores a signature activation datum by the MAC of its secret.
func insertSAD(ctx context.Context, q store.Querier, id string, mac []byte, credentialID, owner, hashAlg, hashes string, created, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sads (id, secret_mac, credential_id, owner, hash_algorithm, hashes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, mac, credentialID, owner, hashAlg, hashes, created, expires)
	return err
}

// loadSAD reads SAD id (sql.ErrNoRows when none).
func loadSAD(ctx context.Context, q store.Querier, id string) (mac []byte, credentialID, owner, hashAlg, hashes string, expires time.Time, err error) {
	err = q.QueryRowContext(ctx, `SELECT secret_mac, credential_id, owner, hash_algorithm, hashes, expires_at
			FROM sads WHERE id = $1`, id).Scan(&mac, &credentialID, &owner, &hashAlg, &hashes, store.ScanTime(&expires))
	return mac, credentialID, owner, hashAlg, hashes, expires, err
}

// spendSAD marks SAD id used at now, atomically; false means it already was.
func spendSAD(ctx context.Context, q store.Querier, id string, now time.Time) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE sads SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, now, id))
}

// insertSignature records a signature made at now.
func insertSignature(ctx context.Context, q store.Querier, id, credentialID, owner, format, hashAlg, digest, documentName string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO signatures (id, credential_id, owner, format, hash_algorithm, digest, document_name, signing_time, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, id, credentialID, owner, format, hashAlg, digest, documentName, now)
	return err
}

// addToCounter adds n to counter name and returns its new value.
func addToCounter(ctx context.Context, q store.Querier, name string, n int64) (int64, error) {
	var top int64
	err := q.QueryRowContext(ctx, `UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value`, n, name).Scan(&top)
	return top, err
}
