package signature

import (
	"context"
	"crypto/x509"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
var Migrations = host.Migrations(Name, migrationFiles, "migrations")

// credentialColumns are read by scanCredential, in order.
const credentialColumns = `id, owner, owner_kind, status, key_algorithm, key_sealed, cert_der, serial, subject,
	description, not_before, not_after, created_at, revoked_at, revocation_reason`

// scanner is a *sql.Row or *sql.Rows.
type scanner = store.Row

func scanCredential(row scanner) (*Credential, error) {
	var c Credential
	var der []byte
	var revoked sql.NullTime
	if err := row.Scan(&c.ID, &c.Owner, &c.OwnerKind, &c.Status, &c.KeyAlgorithm, &c.sealedKey, &der, &c.Serial, &c.Subject,
		&c.Description, store.ScanTime(&c.NotBefore), store.ScanTime(&c.NotAfter), store.ScanTime(&c.CreatedAt), store.ScanNullTime(&revoked), &c.RevocationReason); err != nil {
		return nil, err
	}
	if revoked.Valid {
		c.RevokedAt = revoked.Time.UTC()
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("credential %s: certificate: %w", c.ID, err)
	}
	c.Certificate = cert
	return &c, nil
}

func loadCredential(ctx context.Context, db *store.DB, id string) (*Credential, error) {
	c, err := scanCredential(db.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("credential %s: %w", id, rpcerr.ErrNotFound)
	}
	return c, err
}

func insertCredential(ctx context.Context, tx *sql.Tx, c *Credential) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials (id, owner, owner_kind, status, key_algorithm, key_sealed, cert_der,
		serial, subject, description, not_before, not_after, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.ID, c.Owner, c.OwnerKind, c.Status, c.KeyAlgorithm, c.sealedKey, c.Certificate.Raw,
		c.Serial, c.Subject, c.Description, c.NotBefore, c.NotAfter, c.CreatedAt)
	return err
}
