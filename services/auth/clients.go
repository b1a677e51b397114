package auth

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ClientSpec describes a ministry application to create or update.
type ClientSpec struct {
	// ID is the OAuth 2.0 client_id: 3 to 64 of a-z, 0-9 and '-'.
	ID string
	// Name is shown to operators.
	Name string
	// Secret is the client secret; only its argon2id hash is stored. At
	// least 16 characters.
	Secret string
	// Scopes the client may ask for; each must be one of AllScopes.
	Scopes []string
}

// Client is a registered ministry application (without its secret).
type Client struct {
	ID       string
	Name     string
	Scopes   []string
	Disabled bool
}

// ErrClientNotFound is returned for an unknown client id.
var ErrClientNotFound = errors.New("auth: client not found")

// validate returns every problem with the spec as field errors.
func (c ClientSpec) validate() error {
	var errs []error
	if !validClientID(c.ID) {
		errs = append(errs, &rpcerr.FieldError{Field: "client_id", Reason: "must be 3 to 64 characters of a-z, 0-9 and '-'"})
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		errs = append(errs, &rpcerr.FieldError{Field: "name", Reason: "must be 1 to 200 characters"})
	}
	if len(c.Secret) < 16 || len(c.Secret) > 256 {
		errs = append(errs, &rpcerr.FieldError{Field: "client_secret", Reason: "must be 16 to 256 characters"})
	}
	for _, s := range c.Scopes {
		if !knownScope(s) {
			errs = append(errs, &rpcerr.FieldError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q", s)})
		}
	}
	return errors.Join(errs...)
}

func validClientID(id string) bool {
	if len(id) < 3 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || unicode.IsDigit(r) && r < 128 || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// EnsureClient creates the client or, when it exists, replaces its name,
// secret and scopes. `tamkeen dev` seeds the demo ministry client with it.
func (s *Service) EnsureClient(ctx context.Context, spec ClientSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	scopes := append([]string(nil), spec.Scopes...)
	sort.Strings(scopes)
	hash, err := hashSecret(spec.Secret, s.cfg.HashParams())
	if err != nil {
		return err
	}
	now := s.now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO clients (id, name, secret_hash, scopes, disabled, created_at, updated_at)
VALUES ($1, $2, $3, $4, FALSE, $5, $5)
ON CONFLICT (id) DO UPDATE SET name = $2, secret_hash = $3, scopes = $4, updated_at = $5`,
			spec.ID, spec.Name, hash, strings.Join(scopes, " "), now)
		if err != nil {
			return fmt.Errorf("auth: ensure client %s: %w", spec.ID, err)
		}
		return nil
	})
}

// Client returns a registered client.
func (s *Service) Client(ctx context.Context, id string) (Client, error) {
	var (
		c      Client
		scopes string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, scopes, disabled FROM clients WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &scopes, &c.Disabled)
	if store.IsNoRows(err) {
		return Client{}, ErrClientNotFound
	}
	if err != nil {
		return Client{}, fmt.Errorf("auth: client %s: %w", id, err)
	}
	c.Scopes = strings.Fields(scopes)
	return c, nil
}

// AuthenticateClient checks a client's secret and returns the client. An
// unknown client and a wrong secret give the same error, and both cost an
// argon2id computation, so that timing does not tell which.
func (s *Service) AuthenticateClient(ctx context.Context, id, secret string) (Client, error) {
	var (
		c            Client
		scopes, hash string
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, scopes, disabled, secret_hash FROM clients WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &scopes, &c.Disabled, &hash)
	switch {
	case store.IsNoRows(err):
		hash = s.dummyHash
	case err != nil:
		return Client{}, fmt.Errorf("auth: client %s: %w", id, err)
	}
	ok, _, verr := verifySecret(secret, hash)
	if verr != nil {
		return Client{}, fmt.Errorf("auth: client %s: %w", id, verr)
	}
	if !ok || store.IsNoRows(err) || c.Disabled {
		return Client{}, ErrInvalidClient
	}
	c.Scopes = strings.Fields(scopes)
	return c, nil
}

// ErrInvalidClient is returned when client authentication fails, for
// whatever reason (OAuth 2.0's invalid_client).
var ErrInvalidClient = errors.New("auth: invalid client credentials")
