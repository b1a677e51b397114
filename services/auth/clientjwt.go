package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// This file is private_key_jwt client authentication (RFC 7523 section
// 2.2, OpenID Connect Core section 9): a confidential client registers
// its public keys (a JWK Set, inline or by URL) and authenticates with a
// JWT it signs: iss = sub = its client_id, aud the token endpoint (or the
// issuer, or the endpoint called), exp at most five minutes ahead, and a
// jti that is accepted once. zitadel's op.VerifyJWTAssertion checks the
// signature, aud, exp, iat and iss = sub; Tamkeen adds the exp bound and
// the jti replay table.

// Bounds of client assertions.
const (
	// maxAssertionLife is how far ahead an assertion's exp may be.
	maxAssertionLife = 5 * time.Minute
	// assertionSkew is the clock skew allowed on exp and iat.
	assertionSkew = 10 * time.Second
	// maxJWKSBytes bounds a registered or fetched JWK Set.
	maxJWKSBytes = 64 << 10
	// jwksCacheTTL is how long a fetched jwks_uri answer is used.
	jwksCacheTTL = 5 * time.Minute
)

// keyProblems checks the keys of a private_key_jwt client: exactly one of
// an inline JWK Set of public signing keys or an https jwks_uri.
func (c ClientSpec) keyProblems(keyJWT bool) []error {
	var errs []error
	switch {
	case !keyJWT && (c.JWKS != "" || c.JWKSURI != ""):
		errs = append(errs, &rpcerr.FieldError{Field: "jwks", Reason: "only a private_key_jwt client registers keys", Code: "jwks.not_allowed"})
	case keyJWT && (c.JWKS == "") == (c.JWKSURI == ""):
		errs = append(errs, &rpcerr.FieldError{Field: "jwks", Reason: "a private_key_jwt client registers exactly one of jwks or jwks_uri", Code: "jwks.exactly_one"})
	case c.JWKS != "":
		if _, err := parseClientJWKS([]byte(c.JWKS)); err != nil {
			errs = append(errs, &rpcerr.FieldError{Field: "jwks", Reason: err.Error(), Code: "jwks.unusable"})
		}
	case c.JWKSURI != "":
		if what, p := redirectURIProblem(c.JWKSURI); p != "" {
			errs = append(errs, &rpcerr.FieldError{Field: "jwks_uri", Reason: fmt.Sprintf("%q %s", c.JWKSURI, p), Code: "jwks_uri." + what})
		}
	}
	return errs
}

// parseClientJWKS parses a client's JWK Set: 1 to 20 valid public keys.
func parseClientJWKS(raw []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if len(raw) > maxJWKSBytes {
		return set, errors.New("is larger than 64 KiB")
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return set, errors.New("is not a JWK Set")
	}
	if len(set.Keys) == 0 || len(set.Keys) > 20 {
		return set, errors.New("must hold 1 to 20 keys")
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			return set, fmt.Errorf("key %q is not a valid public signing key", k.KeyID)
		}
	}
	return set, nil
}

// jwksCache holds the JWK Sets fetched from clients' jwks_uri.
type jwksCache struct {
	mu   sync.Mutex
	sets map[string]cachedJWKS
}

type cachedJWKS struct {
	set jose.JSONWebKeySet
	at  time.Time
}

// clientKeys returns the public keys of a private_key_jwt client: its
// inline JWK Set, or its jwks_uri's (cached five minutes, fetched again
// when a kid is missing and the copy is older than ten seconds).
func (s *Service) clientKeys(ctx context.Context, c Client, kid string) (jose.JSONWebKeySet, error) {
	if c.JWKS != "" {
		return parseClientJWKS([]byte(c.JWKS))
	}
	if c.JWKSURI == "" {
		return jose.JSONWebKeySet{}, errors.New("no keys registered")
	}
	now := s.Now()
	s.oidc.jwks.mu.Lock()
	got, ok := s.oidc.jwks.sets[c.JWKSURI]
	s.oidc.jwks.mu.Unlock()
	if ok && now.Sub(got.at) < jwksCacheTTL && (len(got.set.Key(kid)) > 0 || kid == "" || now.Sub(got.at) < 10*time.Second) {
		return got.set, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.JWKSURI, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	resp, err := s.outboundHTTP().Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_uri: status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_uri: %w", err)
	}
	set, err := parseClientJWKS(raw)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks_uri: %w", err)
	}
	s.oidc.jwks.mu.Lock()
	if s.oidc.jwks.sets == nil || len(s.oidc.jwks.sets) > 1000 {
		s.oidc.jwks.sets = map[string]cachedJWKS{}
	}
	s.oidc.jwks.sets[c.JWKSURI] = cachedJWKS{set: set, at: now}
	s.oidc.jwks.mu.Unlock()
	return set, nil
}

// assertionKeys is op.JWTProfileKeyStorage over the registered keys of
// private_key_jwt clients.
type assertionKeys struct{ svc *Service }

// GetKeyByIDAndClientID returns the client's key named kid; without a
// kid, the client's only key.
func (a assertionKeys) GetKeyByIDAndClientID(ctx context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	c, err := a.svc.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.Disabled || c.TokenAuthMethod != AuthMethodPrivateKeyJWT {
		return nil, ErrInvalidClient
	}
	set, err := a.svc.clientKeys(ctx, c, kid)
	if err != nil {
		return nil, err
	}
	switch {
	case kid != "":
		if ks := set.Key(kid); len(ks) > 0 {
			return &ks[0], nil
		}
	case len(set.Keys) == 1:
		return &set.Keys[0], nil
	}
	return nil, errors.New("no registered key matches the assertion's kid")
}

// authenticateAssertion authenticates a private_key_jwt client at an
// endpoint (endpoint is its URL, an audience the assertion may name
// besides the token endpoint and the issuer). claimedID is the form's
// client_id ("" when absent). Failures are counted like wrong secrets.
func (s *Service) authenticateAssertion(ctx context.Context, assertion, claimedID, endpoint, source string) (Client, error) {
	if len(assertion) > maxTokenBytes {
		return Client{}, ErrInvalidClient
	}
	var unverified oidc.JWTTokenRequest
	if _, err := oidc.ParseToken(assertion, &unverified); err != nil || unverified.Issuer == "" || len(unverified.Issuer) > 64 {
		return Client{}, ErrInvalidClient
	}
	id := unverified.Issuer
	if claimedID != "" && claimedID != id {
		return Client{}, ErrInvalidClient
	}
	return s.throttledClient(ctx, id, source, "client assertion", func(now time.Time) (Client, error) {
		return s.verifyAssertion(ctx, assertion, id, endpoint, now)
	})
}

// verifyAssertion checks the assertion of client id and records its jti.
func (s *Service) verifyAssertion(ctx context.Context, assertion, id, endpoint string, now time.Time) (Client, error) {
	c, err := s.Client(ctx, id)
	if errors.Is(err, ErrClientNotFound) {
		return Client{}, ErrInvalidClient
	}
	if err != nil {
		return Client{}, err
	}
	if c.Disabled || c.TokenAuthMethod != AuthMethodPrivateKeyJWT {
		return Client{}, ErrInvalidClient
	}
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	var req *oidc.JWTTokenRequest
	for _, aud := range []string{base + pathToken, s.cfg.Issuer, endpoint} {
		if aud == "" {
			continue
		}
		v := op.NewJWTProfileVerifier(assertionKeys{svc: s}, aud, maxAssertionLife, assertionSkew)
		req, err = op.VerifyJWTAssertion(ctx, assertion, v)
		if !errors.Is(err, oidc.ErrAudience) {
			break
		}
	}
	if err != nil {
		s.Logger.InfoContext(ctx, "auth: client assertion refused", "client_id", id, "reason", assertionReason(err))
		return Client{}, ErrInvalidClient
	}
	exp := req.ExpiresAt.AsTime()
	if req.Issuer != id || req.JWTID == "" || len(req.JWTID) > 200 || exp.After(now.Add(maxAssertionLife+assertionSkew)) {
		s.Logger.InfoContext(ctx, "auth: client assertion refused", "client_id", id, "reason", "jti missing or exp more than 5 minutes ahead")
		return Client{}, ErrInvalidClient
	}
	err = insertClientAssertion(ctx, s.DB, mac(s.keys.lookup, "client_assertion", id+"|"+req.JWTID), id, exp.Add(assertionSkew))
	if store.IsUniqueViolation(err) {
		s.Logger.WarnContext(ctx, "auth: client assertion replayed", "client_id", id)
		return Client{}, ErrInvalidClient
	}
	if err != nil {
		return Client{}, fmt.Errorf("auth: client assertion: %w", err)
	}
	return c, nil
}

// assertionReason is a short, secret-free reason for the log.
func assertionReason(err error) string {
	for _, e := range []error{oidc.ErrAudience, oidc.ErrExpired, oidc.ErrIatToOld, oidc.ErrIatInFuture, oidc.ErrIatMissing,
		oidc.ErrSubjectInvalid, oidc.ErrSignatureInvalid, oidc.ErrSignatureUnsupportedAlg} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "malformed or unverifiable"
}
