package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Levels of assurance (the acr claim).
const (
	// ACRPassword is reached with a password.
	ACRPassword = "loa1"
	// ACRStepUp is reached with a password and a one-time code.
	ACRStepUp = "loa2"
)

// tokenType is the JWT typ of access tokens (RFC 9068).
const tokenType = "at+jwt"

// verifyLeeway is the clock skew tolerated when verifying tokens.
const verifyLeeway = 30 * time.Second

// TokenPair is an OAuth 2.0 token response.
type TokenPair struct {
	AccessToken string
	// TokenType is always "Bearer".
	TokenType string
	// ExpiresIn is the access token's life.
	ExpiresIn time.Duration
	// RefreshToken is empty for client tokens.
	RefreshToken string
	// Scope is set for client tokens.
	Scope string
	// ACR is set for citizen tokens.
	ACR string
}

// Principal is who a verified access token speaks for: a citizen (ACR set)
// or a ministry client (ClientID set, no ACR).
type Principal struct {
	// Subject is the citizen id or the client id.
	Subject  string
	ClientID string
	Scopes   []string
	ACR      string
	AMR      []string
	AuthTime time.Time
	AZP      string
	// SessionID is a citizen token's sid: the session it belongs to.
	SessionID string
}

// IsCitizen reports whether the token is a citizen's.
func (p Principal) IsCitizen() bool { return p.ACR != "" && p.Subject != "" }

// IsClient reports whether the token is a ministry client's.
func (p Principal) IsClient() bool { return p.ACR == "" && p.ClientID != "" }

// HasScope reports whether a client token carries scope.
func (p Principal) HasScope(s string) bool {
	return p.IsClient() && slices.Contains(p.Scopes, s)
}

// Errors of token use.
var (
	// ErrInvalidToken: the access token is missing, malformed, expired,
	// not ours or not for this audience.
	ErrInvalidToken = fmt.Errorf("invalid or expired access token: %w", rpcerr.ErrUnauthenticated)
	// ErrInvalidGrant: the refresh token is unknown, expired, used or
	// revoked (OAuth 2.0's invalid_grant).
	ErrInvalidGrant = errors.New("auth: refresh token is invalid, expired or revoked")
	// ErrCitizenTokenRequired: the call needs a citizen's token.
	ErrCitizenTokenRequired = fmt.Errorf("a citizen access token is required: %w", rpcerr.ErrPermissionDenied)
	// ErrSessionEnded: the citizen's access token belongs to a session
	// that was logged out or revoked (or to none): it may still pass where
	// it is merely read until it expires, but it cannot start a new
	// session, step up or enrol an authenticator.
	ErrSessionEnded = fmt.Errorf("the session of this access token has ended (logged out or revoked): log in again: %w", rpcerr.ErrUnauthenticated)
)

// Reasons a session ends, in SessionRevoked events.
const (
	revokeLogout = "logout"
	// revokeRevocation: the client revoked its grant (RFC 7009); the
	// family ends, the session does not.
	revokeRevocation = "revocation"
	revokeReuse      = "refresh_token_reuse"
)

// requireSession checks that a citizen caller's session is alive: its
// login family is not revoked. A citizen token without sid is refused.
func (s *Service) requireSession(ctx context.Context, q store.Querier, caller Principal) error {
	if caller.SessionID == "" {
		return ErrSessionEnded
	}
	alive, err := sessionAlive(ctx, q, caller.SessionID)
	if err != nil {
		return fmt.Errorf("auth: session: %w", err)
	}
	if !alive {
		return ErrSessionEnded
	}
	return nil
}

// endSession revokes every family of the session inside tx and, when the
// session was alive, announces it (session_revoked, for the gateway's
// revocation set) with the time its last access token expires.
func (s *Service) endSession(ctx context.Context, tx *sql.Tx, f familyRow, reason string, now time.Time) error {
	alive, err := revokeSession(ctx, tx, f.SessionID, reason, now)
	if err != nil {
		return fmt.Errorf("auth: end session: %w", err)
	}
	if !alive {
		return nil
	}
	if err := s.queueBackchannelLogout(ctx, tx, f); err != nil {
		return err
	}
	// Tokens are accepted up to verifyLeeway past exp; a minute more
	// covers the clocks of the gateway replicas.
	expires := now.Add(s.cfg.AccessTokenTTL + verifyLeeway + time.Minute)
	return s.emit(ctx, tx, EventSessionRevoked, f.CitizenID, &eventsv1.SessionRevoked{
		SessionId: f.SessionID, CitizenId: f.CitizenID, Reason: reason,
		ExpireTime: timestamppb.New(expires), Time: timestamppb.New(now),
	})
}

// sign signs claims with key (the ES256 key) as an access token.
func sign(key *signingKey, c *jwks.Claims) (string, error) {
	s, err := key.sign(c, tokenType)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// baseClaims are the claims every token has.
func (s *Service) baseClaims(sub string, now time.Time) (*jwks.Claims, error) {
	jti, err := store.NewIDFrom(s.Rand, "at_")
	if err != nil {
		return nil, err
	}
	return &jwks.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   sub,
		Audience:  jwt.ClaimStrings{s.cfg.Audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTokenTTL)),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        jti,
	}}, nil
}

// issueClientToken issues a ministry client's access token.
// The token carries the client's registered ministry (the tenant it acts
// for) and organisation (what its organisation seal names, claim org_name).
func (s *Service) issueClientToken(ctx context.Context, client Client, scopes []string) (TokenPair, error) {
	key, err := s.ring.signer(ctx)
	if err != nil {
		return TokenPair{}, err
	}
	c, err := s.baseClaims(client.ID, s.Now())
	if err != nil {
		return TokenPair{}, err
	}
	c.ClientID = client.ID
	c.Ministry = client.Ministry
	c.OrgName = client.Organization
	c.Scope = strings.Join(scopes, " ")
	at, err := sign(key, c)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: at, TokenType: "Bearer", ExpiresIn: s.cfg.AccessTokenTTL, Scope: c.Scope}, nil
}

// citizenAccessToken signs a citizen's access token for family f.
func (s *Service) citizenAccessToken(key *signingKey, f familyRow, now time.Time) (string, error) {
	c, err := s.baseClaims(f.CitizenID, now)
	if err != nil {
		return "", err
	}
	c.ACR, c.AMR, c.AZP, c.SessionID = f.ACR, f.AMR, f.AZP, f.SessionID
	// RFC 9068 section 2.2.3: a code-flow token names its OpenID scopes;
	// a citizen's own login has none.
	c.Scope = strings.Join(f.Scopes, " ")
	c.AuthTime = jwt.NewNumericDate(f.AuthTime)
	return sign(key, c)
}

// newRefreshToken returns an opaque refresh token and its MAC.
func (s *Service) newRefreshToken() (token, tokenMAC string, err error) {
	var b [32]byte
	if _, err := io.ReadFull(s.Rand, b[:]); err != nil {
		return "", "", fmt.Errorf("auth: refresh token: %w", err)
	}
	token = "rt_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, mac(s.keys.lookup, "refresh", token), nil
}

// startFamily stores a new refresh-token family for an authentication
// event inside tx and returns its token pair. A family without a
// SessionID starts a session of its own (a login): its id is the sid.
func (s *Service) startFamily(ctx context.Context, tx *sql.Tx, key *signingKey, f familyRow, now time.Time) (TokenPair, error) {
	pair, _, err := s.newFamily(ctx, tx, key, f, now)
	return pair, err
}

// newFamily is startFamily that also returns the family as stored (its
// id and session id).
func (s *Service) newFamily(ctx context.Context, tx *sql.Tx, key *signingKey, f familyRow, now time.Time) (TokenPair, familyRow, error) {
	id, err := store.NewIDFrom(s.Rand, "rtf_")
	if err != nil {
		return TokenPair{}, familyRow{}, err
	}
	f.ID = id
	if f.SessionID == "" {
		f.SessionID = id
	}
	if err := insertFamily(ctx, tx, f, now); err != nil {
		return TokenPair{}, familyRow{}, fmt.Errorf("auth: store token family: %w", err)
	}
	pair, err := s.extendFamily(ctx, tx, key, f, now)
	return pair, f, err
}

// extendFamily adds a refresh token to family f inside tx and returns it
// with a new access token.
func (s *Service) extendFamily(ctx context.Context, tx *sql.Tx, key *signingKey, f familyRow, now time.Time) (TokenPair, error) {
	rt, rtMAC, err := s.newRefreshToken()
	if err != nil {
		return TokenPair{}, err
	}
	if err := insertRefreshToken(ctx, tx, rtMAC, f.ID, now.Add(s.cfg.RefreshTokenTTL), now); err != nil {
		return TokenPair{}, fmt.Errorf("auth: store refresh token: %w", err)
	}
	at, err := s.citizenAccessToken(key, f, now)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: at, TokenType: "Bearer", ExpiresIn: s.cfg.AccessTokenTTL, RefreshToken: rt, ACR: f.ACR}, nil
}

// Refresh rotates a refresh token: it is marked used and a new pair of the
// same family (same acr, amr, auth_time and sid) is returned. Presenting a
// token that was already used ends its whole session (every family of the
// login): either it was stolen or its owner's copy was, and nobody can
// tell which.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	if !strings.HasPrefix(refreshToken, "rt_") || len(refreshToken) > 100 {
		return TokenPair{}, ErrInvalidGrant
	}
	key, err := s.ring.signer(ctx)
	if err != nil {
		return TokenPair{}, err
	}
	tokenMAC := mac(s.keys.lookup, "refresh", refreshToken)
	now := s.Now()
	var (
		pair  TokenPair
		reuse bool
		r0    familyRow
	)
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		reuse = false
		r, err := selectRefreshToken(ctx, tx, tokenMAC)
		r0 = r.Family
		if store.IsNoRows(err) {
			return ErrInvalidGrant
		}
		if err != nil {
			return fmt.Errorf("auth: refresh: %w", err)
		}
		if r.Revoked || !now.Before(r.ExpiresAt) {
			return ErrInvalidGrant
		}
		ok, err := useRefreshToken(ctx, tx, tokenMAC, now)
		if err != nil {
			return fmt.Errorf("auth: refresh: %w", err)
		}
		if !ok {
			// Reuse: commit the revocation, then refuse.
			reuse = true
			return s.endSession(ctx, tx, r.Family, revokeReuse, now)
		}
		pair, err = s.extendFamily(ctx, tx, key, r.Family, now)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	if reuse {
		s.Relay.Kick()
		s.Logger.WarnContext(ctx, "auth: refresh token reused; session revoked", slog.String("citizen_id", r0.CitizenID))
		return TokenPair{}, ErrInvalidGrant
	}
	return pair, nil
}

// Logout ends the session of the refresh token: no family of the login
// (the login's own and its step-ups') refreshes again, and the
// session_revoked event has the gateway refuse the session's access
// tokens within seconds. An unknown token is not an error (RFC 7009).
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	tokenMAC := mac(s.keys.lookup, "refresh", refreshToken)
	now := s.Now()
	return s.Commit(ctx, func(tx *sql.Tx) error {
		r, err := selectRefreshToken(ctx, tx, tokenMAC)
		if store.IsNoRows(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("auth: logout: %w", err)
		}
		return s.endSession(ctx, tx, r.Family, revokeLogout, now)
	})
}

// Authenticate verifies the access token of an Authorization header value
// with the service's own keys (defence in depth: the gateway verified it
// too) and returns whom it speaks for.
func (s *Service) Authenticate(ctx context.Context, authorization string) (Principal, error) {
	raw, ok := authn.Token(authorization)
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	return s.VerifyAccessToken(ctx, raw)
}

// maxTokenBytes bounds what VerifyAccessToken parses.
const maxTokenBytes = 8 << 10

// VerifyAccessToken checks an access token's signature (ES256, a key of
// the JWKS), typ, iss, aud, exp and iat and returns its principal.
func (s *Service) VerifyAccessToken(ctx context.Context, raw string) (Principal, error) {
	if len(raw) > maxTokenBytes {
		return Principal{}, ErrInvalidToken
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(verifyLeeway),
		jwt.WithTimeFunc(s.Now),
		jwt.WithStrictDecoding(),
	)
	var c jwks.Claims
	var keyErr error
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, tokenType) {
			return nil, errors.New("not an access token")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKey
		}
		k, err := s.ring.publicKey(ctx, kid)
		if err != nil && !errors.Is(err, errNoKey) {
			keyErr = err
		}
		return k, err
	})
	if keyErr != nil {
		return Principal{}, keyErr // the store failed: not the caller's fault
	}
	if err != nil || c.Subject == "" {
		return Principal{}, ErrInvalidToken
	}
	p := Principal{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes(), ACR: c.ACR, AMR: c.AMR, AZP: c.AZP, SessionID: c.SessionID}
	if c.AuthTime != nil {
		p.AuthTime = c.AuthTime.UTC()
	}
	if !p.IsCitizen() && !p.IsClient() {
		return Principal{}, ErrInvalidToken
	}
	return p, nil
}

// OpenIDConfiguration is the discovery document (OpenID Connect
// Discovery 1.0, and RFC 8414 at /.well-known/oauth-authorization-server):
// only what works — the code flow with PKCE S256 through the hosted pages
// (oidc.go), the refresh and client_credentials grants, userinfo,
// revocation and RP-initiated logout.
type OpenIDConfiguration struct {
	Issuer                                 string
	JWKSURI                                string
	AuthorizationEndpoint                  string
	TokenEndpoint                          string
	UserinfoEndpoint                       string
	RevocationEndpoint                     string
	EndSessionEndpoint                     string
	GrantTypesSupported                    []string
	ResponseTypesSupported                 []string
	ResponseModesSupported                 []string
	CodeChallengeMethodsSupported          []string
	SubjectTypesSupported                  []string
	IDTokenSigningAlgValuesSupported       []string
	ACRValuesSupported                     []string
	TokenEndpointAuthMethodsSupported      []string
	RevocationEndpointAuthMethodsSupported []string
	ScopesSupported                        []string
	ClaimsSupported                        []string
	PromptValuesSupported                  []string
	// ClaimsParameterSupported: the claims request parameter is read for
	// an essential acr (oidc.go's claimsACR).
	ClaimsParameterSupported bool
	// AuthorizationResponseIssParameterSupported: the code response
	// carries iss (RFC 9207).
	AuthorizationResponseIssParameterSupported bool
	// Introspection, pushed authorization requests, back-channel logout
	// and private_key_jwt assertion algs (oidc.go, clientjwt.go,
	// backchannel.go).
	IntrospectionEndpoint                      string
	IntrospectionEndpointAuthMethodsSupported  []string
	PushedAuthorizationRequestEndpoint         string
	BackchannelLogoutSupported                 bool
	BackchannelLogoutSessionSupported          bool
	TokenEndpointAuthSigningAlgValuesSupported []string
}

// advertisedScopes are the client scopes of scopes_supported: all but
// auth:password-login, which no relying party asks for (operators grant it
// to the platform's own apps only; RFC 8414 lets a server leave a
// supported scope out).
func advertisedScopes() []string {
	return slices.DeleteFunc(scope.All(), func(s string) bool { return s == scope.PasswordLogin })
}

// OpenIDConfiguration returns the discovery document; every URL is under
// the issuer (the gateway).
func (s *Service) OpenIDConfiguration() OpenIDConfiguration {
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	auth := []string{AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT, AuthMethodNone}
	return OpenIDConfiguration{
		Issuer:                                 s.cfg.Issuer,
		JWKSURI:                                base + "/.well-known/jwks.json",
		AuthorizationEndpoint:                  base + pathAuthorize,
		TokenEndpoint:                          base + pathToken,
		UserinfoEndpoint:                       base + pathUserinfo,
		RevocationEndpoint:                     base + pathRevoke,
		EndSessionEndpoint:                     base + pathLogout,
		GrantTypesSupported:                    []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query"},
		CodeChallengeMethodsSupported:          []string{"S256"},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       []string{AlgES256, AlgRS256},
		ACRValuesSupported:                     []string{ACRPassword, ACRStepUp},
		TokenEndpointAuthMethodsSupported:      auth,
		RevocationEndpointAuthMethodsSupported: auth,
		ScopesSupported:                        append(slices.Clone(oidcScopes), advertisedScopes()...),
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "jti", "acr", "amr", "auth_time", "azp", "client_id", "scope", "sid",
			"nonce", "at_hash", "name", "given_name", "family_name", "locale", "phone_number", "phone_number_verified", "email", "email_verified", ClaimProofingLevel},
		PromptValuesSupported:                      []string{"none", "login"},
		AuthorizationResponseIssParameterSupported: true,
		ClaimsParameterSupported:                   true,
		IntrospectionEndpoint:                      base + pathIntrospect,
		IntrospectionEndpointAuthMethodsSupported:  auth[:3],
		PushedAuthorizationRequestEndpoint:         base + pathPAR,
		BackchannelLogoutSupported:                 true,
		BackchannelLogoutSessionSupported:          true,
		TokenEndpointAuthSigningAlgValuesSupported: []string{"RS256", "ES256", "PS256"},
	}
}
