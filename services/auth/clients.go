package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
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
	// Secret is the client secret; only a hash of it is stored: an
	// HMAC-SHA-256 when it has the shape of a generated secret (unpadded
	// URL-safe base64 of at least 24 bytes, as `tamkeen clients create`
	// makes), otherwise argon2id, since a chosen secret may be guessable
	// (see secret.go). 16 to 256 characters; empty for a public client.
	Secret string
	// Scopes the client may ask for; each must be one of scope.All.
	Scopes []string
	// AllowedOrigins are the web origins (scheme://host[:port]) of the
	// client's browser pages, for which the gateway answers CORS on the
	// authenticated API (origins.go): at most MaxAllowedOrigins, https or
	// http on localhost, 127.0.0.1 or [::1]. EnsureClient leaves an
	// existing client's origins alone; SetClientAllowedOrigins replaces
	// them.
	AllowedOrigins []string
	// CodeFlow is how the client signs citizens in with the
	// authorization code flow; the zero value is a client of
	// client_credentials only.
	CodeFlow
}

// CodeFlow is a client's registration for the authorization code flow.
type CodeFlow struct {
	// RedirectURIs are matched exactly (https, or http on a loopback
	// address), except that a Loopback client's http://127.0.0.1 and
	// http://[::1] URIs match any port (RFC 8252 section 7.3).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string
	// Public clients (browser and native apps) have no secret and must
	// use PKCE; confidential ones authenticate at the token endpoint.
	Public bool
	// Loopback allows any port on the loopback redirect URIs (native and
	// development apps that listen on a port of their choosing).
	Loopback bool
	// TokenAuthMethod is client_secret_basic (the default) or
	// client_secret_post for a confidential client, none for a public one.
	TokenAuthMethod string
	// MaxACR is the highest acr the client may ask for (loa1 or loa2);
	// empty is loa1.
	MaxACR string
	// JWKS (a JWK Set as JSON) or JWKSURI (where to fetch it) holds the
	// public keys of a private_key_jwt client (RFC 7523); exactly one.
	JWKS    string
	JWKSURI string
	// BackchannelLogoutURI receives a logout token when a session in
	// which the client got tokens ends (https, or http on a loopback
	// address).
	BackchannelLogoutURI string
	// IDTokenAlg is the alg of the client's ID tokens: ES256 (the
	// default, "") or RS256.
	IDTokenAlg string
}

// Token endpoint authentication methods (OpenID Connect Core section 9).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
	// AuthMethodPrivateKeyJWT is RFC 7523 client authentication: a JWT
	// signed with a key the client registered (what Login.gov requires).
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// RedirectAllowed reports whether uri is one of the client's registered
// redirect URIs (exactly, or with another port for a loopback client).
func (f CodeFlow) RedirectAllowed(uri string) bool {
	return uriAllowed(f.RedirectURIs, f.Loopback, uri)
}

// PostLogoutAllowed reports whether uri is a registered post-logout
// redirect URI, matched as RedirectAllowed matches.
func (f CodeFlow) PostLogoutAllowed(uri string) bool {
	return uriAllowed(f.PostLogoutRedirectURIs, f.Loopback, uri)
}

// ACRAllowed reports whether the client may ask for acr.
func (f CodeFlow) ACRAllowed(acr string) bool {
	switch acr {
	case ACRPassword:
		return true
	case ACRStepUp:
		return f.MaxACR == ACRStepUp
	}
	return false
}

// uriAllowed matches uri against registered URIs: exactly, or, when
// loopback is set, an http URI on 127.0.0.1 or [::1] that differs from a
// registered one only in its port.
func uriAllowed(registered []string, loopback bool, uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(registered, uri) {
		return true
	}
	if !loopback {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || !isLoopbackHTTP(u) || u.User != nil || u.Fragment != "" {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err != nil || !isLoopbackHTTP(ru) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

// isLoopbackHTTP reports whether u is http on a loopback IP literal (not
// "localhost", which RFC 8252 section 8.3 advises against).
func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback() && (u.Port() == "" || validPort(u.Port()))
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// redirectURIProblem says what is wrong with a redirect URI to register:
// the rule it breaks (the last part of its code) and the reason, or two
// empty strings.
func redirectURIProblem(uri string) (what, reason string) {
	if len(uri) > 2000 {
		return "too_long", "is longer than 2000 characters"
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || strings.ContainsFunc(uri, unicode.IsSpace) {
		return "not_absolute", "is not an absolute URL"
	}
	if u.Fragment != "" || strings.Contains(uri, "#") {
		return "fragment", "must not have a fragment"
	}
	if u.User != nil {
		return "userinfo", "must not carry user information"
	}
	switch {
	case u.Scheme == "https":
	case isLoopbackHTTP(u):
	default:
		return "insecure", "must be https, or http on 127.0.0.1 or [::1]"
	}
	return "", ""
}

// Client is a registered ministry application (without its secret).
type Client struct {
	ID           string
	Name         string
	Ministry     string
	Organization string
	Scopes       []string
	Disabled     bool
	// AllowedOrigins are the web origins the gateway answers CORS for.
	AllowedOrigins []string
	// CodeFlow is the client's authorization code registration.
	CodeFlow
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
		errs = append(errs, &rpcerr.FieldError{Field: "client_id", Reason: "must be 3 to 64 characters of a-z, 0-9 and '-'", Code: "client_id.format"})
	}
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, &rpcerr.FieldError{Field: "name", Reason: "is required", Code: "name.required"})
	} else if len(c.Name) > 200 {
		errs = append(errs, &rpcerr.FieldError{Field: "name", Reason: "must be at most 200 bytes", Code: "name.too_many_bytes", Args: rpcerr.ArgList("200")})
	}
	if len(c.Ministry) > 200 {
		errs = append(errs, &rpcerr.FieldError{Field: "ministry", Reason: "must be at most 200 bytes", Code: "ministry.too_many_bytes", Args: rpcerr.ArgList("200")})
	}
	if org := normalizeOrganization(c.Organization); org != "" {
		if fe := textcheck.CheckOrganization("organization", org); fe != nil {
			errs = append(errs, fe)
		}
	}
	keyJWT := c.TokenAuthMethod == AuthMethodPrivateKeyJWT
	switch {
	case (c.Public || keyJWT) && c.Secret != "":
		errs = append(errs, &rpcerr.FieldError{Field: "client_secret", Reason: "must be empty for a public or private_key_jwt client", Code: "client_secret.not_allowed"})
	case !c.Public && !keyJWT && (len(c.Secret) < 16 || len(c.Secret) > 256):
		errs = append(errs, &rpcerr.FieldError{Field: "client_secret", Reason: "must be 16 to 256 characters", Code: "client_secret.length", Args: rpcerr.ArgList("16", "256")})
	}
	switch m := c.TokenAuthMethod; {
	case c.Public && m != "" && m != AuthMethodNone:
		errs = append(errs, &rpcerr.FieldError{Field: "token_endpoint_auth_method", Reason: "must be none for a public client", Code: "token_endpoint_auth_method.public_client"})
	case !c.Public && m != "" && m != AuthMethodBasic && m != AuthMethodPost && m != AuthMethodPrivateKeyJWT:
		errs = append(errs, &rpcerr.FieldError{Field: "token_endpoint_auth_method", Reason: "must be client_secret_basic, client_secret_post or private_key_jwt", Code: "token_endpoint_auth_method.unsupported"})
	}
	errs = append(errs, c.keyProblems(keyJWT)...)
	if u := c.BackchannelLogoutURI; u != "" {
		if what, p := redirectURIProblem(u); p != "" {
			errs = append(errs, &rpcerr.FieldError{Field: "backchannel_logout_uri", Reason: fmt.Sprintf("%q %s", u, p), Code: "backchannel_logout_uri." + what})
		}
	}
	if a := c.IDTokenAlg; a != "" && a != AlgES256 && a != AlgRS256 {
		errs = append(errs, &rpcerr.FieldError{Field: "id_token_signed_response_alg", Reason: "must be ES256 or RS256", Code: "id_token_signed_response_alg.unsupported"})
	}
	if c.Public && len(c.RedirectURIs) == 0 {
		errs = append(errs, &rpcerr.FieldError{Field: "redirect_uris", Reason: "a public client needs at least one", Code: "redirect_uris.required"})
	}
	for field, uris := range map[string][]string{"redirect_uris": c.RedirectURIs, "post_logout_redirect_uris": c.PostLogoutRedirectURIs} {
		if len(uris) > 20 {
			errs = append(errs, &rpcerr.FieldError{Field: field, Reason: "at most 20", Code: rpcerr.FieldCode(field, "too_many"), Args: rpcerr.ArgList("20")})
		}
		for _, u := range uris {
			if what, p := redirectURIProblem(u); p != "" {
				errs = append(errs, &rpcerr.FieldError{Field: field, Reason: fmt.Sprintf("%q %s", u, p), Code: rpcerr.FieldCode(field, what)})
			} else if c.Loopback && !isLoopbackHTTP(mustParse(u)) {
				errs = append(errs, &rpcerr.FieldError{Field: field, Reason: fmt.Sprintf("%q is not http on 127.0.0.1 or [::1] (the client is a loopback client)", u), Code: rpcerr.FieldCode(field, "not_loopback")})
			}
		}
	}
	if c.MaxACR != "" && c.MaxACR != ACRPassword && c.MaxACR != ACRStepUp {
		errs = append(errs, &rpcerr.FieldError{Field: "max_acr", Reason: "must be loa1 or loa2", Code: "max_acr.unsupported"})
	}
	errs = append(errs, originsProblems(c.AllowedOrigins)...)
	for _, s := range c.Scopes {
		if !scope.Known(s) && !isClaimsScope(s) {
			errs = append(errs, &rpcerr.FieldError{Field: "scopes", Reason: fmt.Sprintf("unknown scope %q", s), Code: "scopes.unknown", Args: rpcerr.ArgList(s)})
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
	c.AllowedOrigins = normalizeOrigins(c.AllowedOrigins)
	switch {
	case c.Public:
		c.TokenAuthMethod = AuthMethodNone
	case c.TokenAuthMethod == "":
		c.TokenAuthMethod = AuthMethodBasic
	}
	if c.MaxACR == "" {
		c.MaxACR = ACRPassword
	}
	return c
}

// mustParse parses a URL that redirectURIProblem accepted.
func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{}
	}
	return u
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
	if fe := textcheck.CheckOrganization("organization", org); fe != nil {
		return fe
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
// and its allowed origins alone).
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
// creating a client and ensuring one both store. A generated secret is
// stored as a MAC and takes no argon2 slot; a chosen one as argon2id.
func (s *Service) prepareClient(ctx context.Context, spec ClientSpec) (ClientSpec, string, error) {
	if err := spec.validate(); err != nil {
		return ClientSpec{}, "", err
	}
	spec = spec.normalized()
	if spec.Public || spec.TokenAuthMethod == AuthMethodPrivateKeyJWT {
		return spec, "", nil
	}
	if generatedSecret(spec.Secret) {
		return spec, clientSecretMAC(s.keys.lookup, spec.ID, spec.Secret), nil
	}
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
// MAC is kept (32 random bytes need no memory-hard hash; see secret.go).
func (s *Service) RotateClientSecret(ctx context.Context, id string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", fmt.Errorf("auth: client secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	ok, err := updateClientSecret(ctx, s.DB, id, clientSecretMAC(s.keys.lookup, id, secret), s.Now().UTC())
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
// error. A secret stored as a MAC is checked with one HMAC-SHA-256 and no
// argon2 slot, and an unknown client id costs the same (a dummy MAC), so
// that timing does not tell which; a secret stored as argon2id (chosen by
// hand, or stored before MACs) costs an argon2id computation, and when it
// matches and has the generated shape it is re-stored as a MAC, so that
// its next check is cheap.
func (s *Service) AuthenticateClient(ctx context.Context, id, secret string) (Client, error) {
	c, stored, err := selectClientWithSecret(ctx, s.DB, id)
	// A public client has no secret: it cannot authenticate, and finding
	// that out costs what a wrong secret costs.
	unknown := store.IsNoRows(err) || (err == nil && stored == "")
	switch {
	case unknown:
		stored = dummyClientMAC(s.keys.lookup)
	case err != nil:
		return Client{}, fmt.Errorf("auth: client %s: %w", id, err)
	}
	var ok bool
	if isClientMAC(stored) {
		ok, err = verifyClientMAC(s.keys.lookup, id, secret, stored)
		if errors.Is(err, errOtherKey) {
			s.Logger.WarnContext(ctx, "auth: client secret stored under another key-encryption key: refused; rotate the client's secret", "client_id", id)
			return Client{}, ErrInvalidClient
		}
		if err != nil {
			return Client{}, fmt.Errorf("auth: verify client secret of %s: %w", id, err)
		}
	} else if ok, _, err = s.hasher.verify(ctx, secret, stored); err != nil {
		return Client{}, err
	}
	if !ok || unknown || c.Disabled {
		return Client{}, ErrInvalidClient
	}
	if !isClientMAC(stored) && generatedSecret(secret) {
		s.upgradeClientSecret(ctx, id, stored, secret)
	}
	return c, nil
}

// upgradeClientSecret re-stores a client's argon2id hash as a MAC after the
// secret matched it. The update is conditional on the stored value being
// still the one verified, so that a rotation or an EnsureClient that
// happened meanwhile is never overwritten. A failure is logged, not
// returned: the client did authenticate, and the next success retries.
func (s *Service) upgradeClientSecret(ctx context.Context, id, old, secret string) {
	if err := replaceClientSecretHash(ctx, s.DB, id, old, clientSecretMAC(s.keys.lookup, id, secret)); err != nil {
		s.Logger.WarnContext(ctx, "auth: client secret not re-stored as a MAC", "client_id", id, "error", err)
	}
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
	c, err := s.authenticateTokenClient(ctx, req.ClientID, req.ClientSecret, req.Source)
	if err != nil {
		return TokenPair{}, err
	}
	return s.clientCredentials(ctx, c, strings.Fields(req.Scope))
}

// clientCredentials issues the client token of authenticated client c
// for the scopes asked (all it holds when none is asked); a scope it does
// not hold is ErrInvalidScope.
func (s *Service) clientCredentials(ctx context.Context, c Client, asked []string) (TokenPair, error) {
	// The OpenID scopes a client may hold are about citizens' claims in
	// the code flow, never API access of its own.
	scopes := slices.DeleteFunc(slices.Clone(c.Scopes), isClaimsScope)
	if len(asked) > 0 {
		for _, a := range asked {
			if !slices.Contains(scopes, a) {
				return TokenPair{}, ErrInvalidScope
			}
		}
		asked = slices.Clone(asked)
		slices.Sort(asked)
		scopes = slices.Compact(asked)
	}
	return s.issueClientToken(ctx, c, scopes)
}

// authenticateTokenClient is AuthenticateClient at the token endpoint,
// with the throttling of failures per client id and source that IssueToken
// describes (the code and refresh grants of oidc.go use it too).
func (s *Service) authenticateTokenClient(ctx context.Context, id, secret, source string) (Client, error) {
	return s.throttledClient(ctx, id, source, "token", func(time.Time) (Client, error) {
		return s.AuthenticateClient(ctx, id, secret)
	})
}

// throttledClient authenticates the client id calling from source with
// authenticate, under the token endpoint's throttle: refused while id or
// the pair is throttled, a failure (ErrInvalidClient) counted, a success
// clearing the pair's failures. what names the step in errors. A success
// writes nothing when the pair had no failures: the usual token request is
// one read of the throttle, not a read and a write.
func (s *Service) throttledClient(ctx context.Context, id, source, what string, authenticate func(now time.Time) (Client, error)) (Client, error) {
	pairKey := "ocs:" + mac(s.keys.lookup, "client_source", id+"|"+source)
	idKey := "oc:" + mac(s.keys.lookup, "client", id)
	now := s.Now()
	counted, err := s.checkClientThrottle(ctx, now, idKey, pairKey)
	if err != nil {
		return Client{}, err
	}
	c, err := authenticate(now)
	if errors.Is(err, ErrInvalidClient) {
		return Client{}, s.clientFailed(ctx, now, idKey, pairKey)
	}
	if err != nil {
		return Client{}, err
	}
	if _, failed := counted[pairKey]; failed {
		if err := clearThrottle(ctx, s.DB, pairKey); err != nil {
			return Client{}, fmt.Errorf("auth: %s: %w", what, err)
		}
	}
	return c, nil
}

// errClientLocked is the message of a token-endpoint refusal.
const errClientLocked = "too many failed client authentications for this client: retry later"

// checkClientThrottle refuses a token request while its client id is
// locked from every source or from this one (keys in that order: the first
// locked one answers), in one read; it returns the keys' counters.
func (s *Service) checkClientThrottle(ctx context.Context, now time.Time, keys ...string) (map[string]throttleRow, error) {
	counted, err := selectThrottles(ctx, s.DB, keys...)
	if err != nil {
		return nil, fmt.Errorf("auth: token throttle: %w", err)
	}
	for _, key := range keys {
		if t, found := counted[key]; found && t.LockedUntilMS > ms(now) {
			return nil, retryAfter(errClientLocked, fromMS(t.LockedUntilMS).Sub(now))
		}
	}
	return counted, nil
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
