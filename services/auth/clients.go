package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// ClientSpec describes a ministry application to create or update.
type ClientSpec struct {
	// ID is the OAuth 2.0 client_id: 3 to 64 of a-z, 0-9 and '-'.
	ID string
	// Name is shown to operators.
	Name string
	// Ministry the application belongs to, as the ministry code the
	// enablers use (e.g. "moh"): issued in its tokens' "ministry" claim,
	// it is the one ministry whose content and ledger the client manages
	// (and charge-back). Optional: a client without one manages none.
	Ministry string
	// Organization is the organisation the application acts for, as an
	// organisation seal names it (claim org_name); optional. Arabic or
	// Latin words, checked by textcheck.OrganizationProblem.
	Organization string
	// Secret is the client secret; only its argon2id hash is stored. At
	// least 16 characters.
	Secret string
	// Scopes the client may ask for; each must be one of scope.All.
	Scopes []string
}

// Client is a registered ministry application (without its secret).
type Client struct {
	ID           string
	Name         string
	Ministry     string
	Organization string
	Scopes       []string
	Disabled     bool
}

// Errors of the client API. ErrInvalidClient, ErrInvalidScope and
// ErrUnsupportedGrantType are OAuth 2.0's invalid_client, invalid_scope and
// unsupported_grant_type (RFC 6749 section 5.2).
var (
	// ErrClientNotFound is returned for an unknown client id.
	ErrClientNotFound = fmt.Errorf("client %w", rpcerr.ErrNotFound)
	// ErrClientExists is returned by CreateClient for a taken id.
	ErrClientExists = fmt.Errorf("client %w", rpcerr.ErrAlreadyExists)
	// ErrInvalidClient is returned when client authentication fails, for
	// whatever reason.
	ErrInvalidClient = errors.New("auth: invalid client credentials")
	// ErrInvalidScope is returned when a client asks for a scope it was
	// not granted (or that does not exist).
	ErrInvalidScope = errors.New("auth: requested scope is not granted to the client")
	// ErrUnsupportedGrantType is returned for a grant_type other than
	// client_credentials at the token endpoint.
	ErrUnsupportedGrantType = errors.New("auth: unsupported grant_type (only client_credentials)")
)

// validate returns every problem with the spec as field errors.
func (c ClientSpec) validate() error {
	var errs []error
	if !validClientID(c.ID) {
		errs = append(errs, &rpcerr.FieldError{Field: "client_id", Reason: "must be 3 to 64 characters of a-z, 0-9 and '-'"})
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		errs = append(errs, &rpcerr.FieldError{Field: "name", Reason: "must be 1 to 200 characters"})
	}
	if len(c.Ministry) > 200 {
		errs = append(errs, &rpcerr.FieldError{Field: "ministry", Reason: "must be at most 200 characters"})
	}
	if org := normalizeOrganization(c.Organization); org != "" {
		if p := textcheck.OrganizationProblem(org); p != "" {
			errs = append(errs, &rpcerr.FieldError{Field: "organization", Reason: p})
		}
	}
	if len(c.Secret) < 16 || len(c.Secret) > 256 {
		errs = append(errs, &rpcerr.FieldError{Field: "client_secret", Reason: "must be 16 to 256 characters"})
	}
	for _, s := range c.Scopes {
		if !scope.Known(s) {
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

// normalized returns the spec with sorted, de-duplicated scopes.
func (c ClientSpec) normalized() ClientSpec {
	scopes := append([]string(nil), c.Scopes...)
	sort.Strings(scopes)
	c.Scopes = slices.Compact(scopes)
	c.Organization = normalizeOrganization(c.Organization)
	return c
}

// normalizeOrganization trims an organisation name and collapses its runs
// of spaces (only U+0020: other white space is refused by the check).
func normalizeOrganization(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// SetClientOrganization registers the organisation the client acts for
// (what its organisation seal names); its next tokens carry it.
func (s *Service) SetClientOrganization(ctx context.Context, id, org string) error {
	org = normalizeOrganization(org)
	if p := textcheck.OrganizationProblem(org); p != "" {
		return &rpcerr.FieldError{Field: "organization", Reason: p}
	}
	ok, err := updateClientOrganization(ctx, s.DB, id, org, s.Now().UTC())
	if err != nil {
		return fmt.Errorf("auth: set organisation of %s: %w", id, err)
	}
	if !ok {
		return ErrClientNotFound
	}
	return nil
}

// EnsureClient creates the client or, when it exists, replaces its name,
// ministry, organisation, secret and scopes (and leaves its disabled flag
// alone).
// `tamkeen dev` seeds the demo ministry client with it.
func (s *Service) EnsureClient(ctx context.Context, spec ClientSpec) error {
	spec, hash, err := s.prepareClient(ctx, spec)
	if err != nil {
		return err
	}
	if err := upsertClient(ctx, s.DB, spec, hash, s.Now().UTC()); err != nil {
		return fmt.Errorf("auth: ensure client %s: %w", spec.ID, err)
	}
	return nil
}

// CreateClient registers a new ministry application; ErrClientExists when
// the id is taken.
func (s *Service) CreateClient(ctx context.Context, spec ClientSpec) error {
	spec, hash, err := s.prepareClient(ctx, spec)
	if err != nil {
		return err
	}
	err = insertClient(ctx, s.DB, spec, hash, s.Now().UTC())
	if store.IsUniqueViolation(err) {
		return ErrClientExists
	}
	if err != nil {
		return fmt.Errorf("auth: create client %s: %w", spec.ID, err)
	}
	return nil
}

// prepareClient validates and normalises spec and hashes its secret: what
// creating a client and ensuring one both store.
func (s *Service) prepareClient(ctx context.Context, spec ClientSpec) (ClientSpec, string, error) {
	if err := spec.validate(); err != nil {
		return ClientSpec{}, "", err
	}
	spec = spec.normalized()
	hash, err := s.hasher.hash(ctx, spec.Secret, s.cfg.HashParams())
	if err != nil {
		return ClientSpec{}, "", err
	}
	return spec, hash, nil
}

// ListClients returns every registered client, by id.
func (s *Service) ListClients(ctx context.Context) ([]Client, error) {
	cs, err := selectClients(ctx, s.DB)
	if err != nil {
		return nil, fmt.Errorf("auth: list clients: %w", err)
	}
	return cs, nil
}

// RotateClientSecret gives the client a new random secret and returns it;
// the old one stops working at once. The secret is shown once: only its
// hash is kept.
func (s *Service) RotateClientSecret(ctx context.Context, id string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", fmt.Errorf("auth: client secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	hash, err := s.hasher.hash(ctx, secret, s.cfg.HashParams())
	if err != nil {
		return "", err
	}
	ok, err := updateClientSecret(ctx, s.DB, id, hash, s.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("auth: rotate secret of %s: %w", id, err)
	}
	if !ok {
		return "", ErrClientNotFound
	}
	return secret, nil
}

// DisableClient stops a client from obtaining tokens. Tokens it already
// holds live until they expire (at most the access-token lifetime).
func (s *Service) DisableClient(ctx context.Context, id string) error {
	ok, err := disableClient(ctx, s.DB, id, s.Now().UTC())
	if err != nil {
		return fmt.Errorf("auth: disable client %s: %w", id, err)
	}
	if !ok {
		return ErrClientNotFound
	}
	return nil
}

// Client returns a registered client.
func (s *Service) Client(ctx context.Context, id string) (Client, error) {
	c, err := selectClient(ctx, s.DB, id)
	if store.IsNoRows(err) {
		return Client{}, ErrClientNotFound
	}
	if err != nil {
		return Client{}, fmt.Errorf("auth: client %s: %w", id, err)
	}
	return c, nil
}

// AuthenticateClient checks a client's secret and returns the client. An
// unknown client, a wrong secret and a disabled client give the same
// error, and all cost an argon2id computation, so that timing does not
// tell which.
func (s *Service) AuthenticateClient(ctx context.Context, id, secret string) (Client, error) {
	c, hash, err := selectClientWithSecret(ctx, s.DB, id)
	unknown := store.IsNoRows(err)
	switch {
	case unknown:
		hash = s.dummyHash
	case err != nil:
		return Client{}, fmt.Errorf("auth: client %s: %w", id, err)
	}
	ok, _, verr := s.hasher.verify(ctx, secret, hash)
	if verr != nil {
		return Client{}, verr
	}
	if !ok || unknown || c.Disabled {
		return Client{}, ErrInvalidClient
	}
	return c, nil
}

// TokenRequest is a request to the OAuth 2.0 token endpoint.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	// Scope is space-separated; empty asks for every granted scope.
	Scope string
	// Source is the caller's address, for the per-client-and-source
	// failure counter; empty counts per client id only.
	Source string
}

// IssueToken is the token endpoint for ministry applications
// (client_credentials, RFC 6749 section 4.4): it authenticates the client
// and issues an access token for the requested scopes, which must all be
// granted to it. There is no refresh token.
//
// Failed client authentications are throttled per client id: after
// client-max-failures from one source within client-failure-window that
// source is refused for client-lockout, and after client-id-max-failures
// from all sources every source is. A refusal is a *RetryError (HTTP 429
// with Retry-After) that costs no argon2id computation. The windows are
// short, so a ministry's own servers are never locked out for long, and
// never by failures from another address below the much higher
// per-client ceiling.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (TokenPair, error) {
	if req.GrantType != "client_credentials" {
		return TokenPair{}, ErrUnsupportedGrantType
	}
	pairKey := "ocs:" + mac(s.keys.lookup, "client_source", req.ClientID+"|"+req.Source)
	idKey := "oc:" + mac(s.keys.lookup, "client", req.ClientID)
	now := s.Now()
	if err := s.checkClientThrottle(ctx, now, idKey, pairKey); err != nil {
		return TokenPair{}, err
	}
	c, err := s.AuthenticateClient(ctx, req.ClientID, req.ClientSecret)
	if errors.Is(err, ErrInvalidClient) {
		return TokenPair{}, s.clientFailed(ctx, now, idKey, pairKey)
	}
	if err != nil {
		return TokenPair{}, err
	}
	if err := clearThrottle(ctx, s.DB, pairKey); err != nil {
		return TokenPair{}, fmt.Errorf("auth: token: %w", err)
	}
	scopes := c.Scopes
	if asked := strings.Fields(req.Scope); len(asked) > 0 {
		for _, a := range asked {
			if !slices.Contains(c.Scopes, a) {
				return TokenPair{}, ErrInvalidScope
			}
		}
		slices.Sort(asked)
		scopes = slices.Compact(asked)
	}
	return s.issueClientToken(ctx, c, scopes)
}

// errClientLocked is the message of a token-endpoint refusal.
const errClientLocked = "too many failed client authentications for this client: retry later"

// checkClientThrottle refuses a token request while its client id is
// locked from every source or from this one.
func (s *Service) checkClientThrottle(ctx context.Context, now time.Time, keys ...string) error {
	for _, key := range keys {
		t, found, err := selectThrottle(ctx, s.DB, key)
		if err != nil {
			return fmt.Errorf("auth: token throttle: %w", err)
		}
		if found && t.LockedUntilMS > ms(now) {
			return retryAfter(errClientLocked, fromMS(t.LockedUntilMS).Sub(now))
		}
	}
	return nil
}

// clientFailed counts a failed client authentication per client id and
// per client id and source, locks whichever reached its limit and returns
// ErrInvalidClient, or a *RetryError when this failure locked.
func (s *Service) clientFailed(ctx context.Context, now time.Time, idKey, pairKey string) error {
	nowMS, windowMS := ms(now), ms(now.Add(-s.cfg.ClientFailureWindow))
	until := ms(now.Add(s.cfg.ClientLockout))
	locked := false
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		locked = false
		for _, c := range []struct {
			key string
			max int
		}{{pairKey, s.cfg.ClientMaxFailures}, {idKey, s.cfg.ClientIDMaxFailures}} {
			n, err := countFailure(ctx, tx, c.key, "", nowMS, windowMS)
			if err != nil {
				return fmt.Errorf("auth: count failed client authentication: %w", err)
			}
			if n >= c.max {
				locked = true
				if err := lock(ctx, tx, c.key, until); err != nil {
					return fmt.Errorf("auth: lock client: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if locked {
		return retryAfter(errClientLocked, s.cfg.ClientLockout)
	}
	return ErrInvalidClient
}
