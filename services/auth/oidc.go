package auth

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tamkeen/tamkeen/libs/store"
)

// This file is the OpenID Provider's protocol layer: zitadel/oidc's
// op.Server (request parsing, client authentication, redirect URI and
// prompt checks, RFC 6749 section 5.2 JSON errors) around the domain of
// authorize.go. Tokens are minted by Tamkeen's own code (tokens.go), not
// by the library's legacy Provider, because Tamkeen's access tokens are
// RFC 9068 at+jwt with acr, amr, auth_time, sid and azp, which the gateway
// and every enabler verify (docs/dependencies.md).

// PagesPrefix is where the service's OpenID Provider and hosted sign-in
// pages are served (the gateway routes it to Pages' handler).
const PagesPrefix = "/oauth2/"

// Paths of the OpenID Provider, under the issuer.
const (
	pathAuthorize  = "/oauth2/authorize"
	pathToken      = "/oauth2/token"
	pathUserinfo   = "/oauth2/userinfo"
	pathRevoke     = "/oauth2/revoke"
	pathIntrospect = "/oauth2/introspect"
	pathPAR        = "/oauth2/par"
	pathLogout     = "/oauth2/logout"
	pathLogin      = "/oauth2/login"
	pathCode       = "/oauth2/login/code"
	pathResend     = "/oauth2/login/resend"
	pathSignedOut  = "/oauth2/logged-out"
)

// Cookies of the hosted pages.
const (
	// cookieBinding binds authorization requests to the browser.
	cookieBinding = "tamkeen_ar"
	// cookieSSO holds the single sign-on session.
	cookieSSO = "tamkeen_sso"
)

// oidcState is the lazily built handler of Pages and the provider's
// other process-wide state.
type oidcState struct {
	once sync.Once
	h    http.Handler
	// jwks caches the JWK Sets of clients' jwks_uri.
	jwks jwksCache
	// out is the HTTP client of outbound calls (jwks_uri, back-channel
	// logout): short timeouts, no redirects.
	outOnce sync.Once
	out     *http.Client
}

// outboundHTTP is the client of the provider's outbound calls.
func (s *Service) outboundHTTP() *http.Client {
	s.oidc.outOnce.Do(func() {
		s.oidc.out = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	})
	return s.oidc.out
}

// Pages serves the OpenID Provider (authorize, token for the code and
// refresh grants, userinfo, revoke, logout) and the hosted sign-in pages
// under /oauth2/ (host.PageServer). The gateway routes the issuer's
// /oauth2/ paths here; its own /oauth2/token keeps client_credentials.
func (s *Service) Pages() (string, http.Handler) {
	s.oidc.once.Do(func() { s.oidc.h = s.newOIDCHandler() })
	return PagesPrefix, s.oidc.h
}

// newOIDCHandler routes the hosted pages to pages.go and the rest to
// zitadel's handler of opServer.
func (s *Service) newOIDCHandler() http.Handler {
	srv := &opServer{svc: s}
	proto := op.RegisterServer(srv, op.Endpoints{
		Authorization: op.NewEndpoint(pathAuthorize),
		Token:         op.NewEndpoint(pathToken),
		Userinfo:      op.NewEndpoint(pathUserinfo),
		Revocation:    op.NewEndpoint(pathRevoke),
		Introspection: op.NewEndpoint(pathIntrospect),
		EndSession:    op.NewEndpoint(pathLogout),
	})
	p := &pages{svc: s}
	mux := http.NewServeMux()
	mux.Handle("POST "+pathAuthorize, p.checkAuthorize(proto))
	mux.HandleFunc(pathLogin, p.signIn)
	mux.HandleFunc(pathCode, p.code)
	mux.HandleFunc("POST "+pathResend, p.resend)
	p.routeRecovery(mux)
	mux.HandleFunc("GET "+pathSignedOut, p.signedOut)
	mux.HandleFunc("GET /oauth2/pages.css", p.css)
	mux.Handle(pathUserinfo, bearerChallenge(proto))
	mux.Handle(pathLogout, p.confirmLogout(proto))
	mux.HandleFunc("POST "+pathPAR, srv.pushAuthorization)
	mux.Handle("GET "+pathAuthorize, p.pushedRequest(p.checkAuthorize(proto)))
	mux.Handle(PagesPrefix, proto)
	return noStore(mux)
}

// bearerChallenge adds RFC 6750 section 3's WWW-Authenticate to the
// userinfo endpoint's 401 answers: error="invalid_token" when a token
// was presented, a bare challenge when none was.
func bearerChallenge(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge := `Bearer error="invalid_token"`
		if r.Header.Get("Authorization") == "" && r.URL.Query().Get("access_token") == "" && r.FormValue("access_token") == "" {
			challenge = "Bearer"
		}
		h.ServeHTTP(&challengeWriter{ResponseWriter: w, challenge: challenge}, r)
	})
}

// challengeWriter sets WWW-Authenticate on a 401.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c *challengeWriter) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(status)
}

// noStore keeps every answer of the provider out of caches.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/pages.css" {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// sourceOf is the caller's address: the X-Forwarded-For value the gateway
// sets (its last entry), else the peer.
func sourceOf(h http.Header, remoteAddr string) string {
	if xff := h.Get("X-Forwarded-For"); xff != "" {
		return SourceFromForwardedFor(xff, 0)
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// cookieValue reads a cookie from request headers.
func cookieValue(h http.Header, name string) string {
	c, err := (&http.Request{Header: h}).Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// opServer is Tamkeen's op.Server.
type opServer struct {
	op.UnimplementedServer
	svc *Service
}

// opClient is a registered client as zitadel sees it. Redirect URIs are
// matched by Client.RedirectAllowed (exact, or any loopback port): the
// client answers the one URI of the request when it is allowed.
type opClient struct {
	c        Client
	redirect string
}

var _ op.Client = (*opClient)(nil)

func (o *opClient) GetID() string { return o.c.ID }
func (o *opClient) RedirectURIs() []string {
	if o.c.RedirectAllowed(o.redirect) {
		return []string{o.redirect}
	}
	return nil
}
func (o *opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutRedirectURIs }
func (o *opClient) ApplicationType() op.ApplicationType {
	if o.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (o *opClient) AuthMethod() oidc.AuthMethod {
	switch o.c.TokenAuthMethod {
	case AuthMethodNone:
		return oidc.AuthMethodNone
	case AuthMethodPost:
		return oidc.AuthMethodPost
	case AuthMethodPrivateKeyJWT:
		return oidc.AuthMethodPrivateKeyJWT
	}
	return oidc.AuthMethodBasic
}
func (o *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (o *opClient) GrantTypes() []oidc.GrantType {
	if o.c.TokenAuthMethod == AuthMethodPrivateKeyJWT {
		// Its client_credentials come here (the gateway's gRPC path
		// knows only secrets).
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	}
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (o *opClient) LoginURL(id string) string            { return pathLogin + "?ar=" + id }
func (o *opClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (o *opClient) IDTokenLifetime() time.Duration       { return 10 * time.Minute }
func (o *opClient) DevMode() bool                        { return false }
func (o *opClient) IsScopeAllowed(string) bool           { return false }
func (o *opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (o *opClient) ClockSkew() time.Duration             { return 0 }
func (o *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (o *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// invalidClient is RFC 6749's invalid_client, 401.
func invalidClient() error {
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("client authentication failed"), http.StatusUnauthorized)
}

// VerifyAuthRequest finds the client of an authorization request. An
// unknown or disabled client is answered without a redirect (pages.go
// shows the error page before this runs).
func (o *opServer) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	if r.Data.RequestParam != "" {
		return nil, oidc.ErrRequestNotSupported()
	}
	c, err := o.svc.Client(ctx, r.Data.ClientID)
	if err != nil || c.Disabled || len(c.RedirectURIs) == 0 {
		return nil, op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("unknown client"), http.StatusBadRequest)
	}
	if !c.RedirectAllowed(r.Data.RedirectURI) {
		return nil, op.NewStatusError(oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for the client"), http.StatusBadRequest)
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: &opClient{c: c, redirect: r.Data.RedirectURI}}, nil
}

// claimRequest is one claim of the claims request parameter (OpenID
// Connect Core section 5.5.1); null stands for "default".
type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

// claimsACR reads the claims request parameter (OpenID Connect Core
// section 5.5) for an essential acr, under id_token or userinfo, and
// returns the lowest level that meets it ("" when none is asked for): an
// essential acr the provider must honour (section 5.5.1.1) is treated
// like acr_values. A voluntary acr, and every other claim, is left to the
// scopes. Malformed JSON, or an essential acr whose values this provider
// has none of, is an error.
func claimsACR(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var req map[string]map[string]*claimRequest
	if err := json.Unmarshal([]byte(raw), &req); err != nil || req == nil {
		return "", errors.New("not a JSON object of id_token and userinfo claim requests")
	}
	out := ""
	for _, member := range []string{"id_token", "userinfo"} {
		cr := req[member]["acr"]
		if cr == nil || !cr.Essential {
			continue
		}
		values := cr.Values
		if cr.Value != nil {
			values = append(values, *cr.Value)
		}
		level := ""
		switch {
		case len(values) == 0 || slices.Contains(values, ACRPassword):
			level = ACRPassword
		case slices.Contains(values, ACRStepUp):
			level = ACRStepUp
		default:
			return "", fmt.Errorf("an essential acr of %q, which this provider does not offer (%s, %s)", values, ACRPassword, ACRStepUp)
		}
		if out != ACRStepUp {
			out = level
		}
	}
	return out, nil
}

// Authorize starts the sign-in: PKCE S256 is required of every client,
// the level asked (acr_values, or an essential acr in claims) must be one
// the client may ask for, and a
// single sign-on session that satisfies the request answers it at once.
// Errors here go back to the (registered) redirect URI.
func (o *opServer) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	c := r.Client.(*opClient).c
	d := r.Data
	if d.CodeChallenge == "" || d.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: code_challenge with code_challenge_method=S256")
	}
	if d.ResponseMode != "" && d.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	if len(d.State) > 1000 || len(d.Nonce) > 1000 || len(d.CodeChallenge) != 43 {
		return nil, oidc.ErrInvalidRequest().WithDescription("state, nonce or code_challenge is malformed")
	}
	scopes := grantableScopes(c, d.Scopes)
	acr := ACRPassword
	if slices.Contains(d.ACRValues, ACRStepUp) {
		acr = ACRStepUp
	}
	essential, err := claimsACR(r.Form.Get("claims"))
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("claims: %s", err)
	}
	if essential == ACRStepUp {
		acr = ACRStepUp
	}
	if !c.ACRAllowed(acr) {
		return nil, oidc.ErrInvalidRequest().WithDescription("acr_values %s is not allowed for this client", acr)
	}
	maxAge := int64(-1)
	if d.MaxAge != nil {
		maxAge = int64(min(*d.MaxAge, 1<<31))
	}
	prompt := ""
	switch {
	case slices.Contains(d.Prompt, oidc.PromptNone):
		prompt = oidc.PromptNone
	case slices.Contains(d.Prompt, oidc.PromptLogin):
		prompt, maxAge = oidc.PromptLogin, 0
	}
	a := authorization{
		Client: c, RedirectURI: d.RedirectURI, Scopes: scopes, State: d.State, Nonce: d.Nonce, CodeChallenge: d.CodeChallenge,
		ACR: acr, MaxAge: maxAge, Prompt: prompt, UILocales: pageLang(r.Form.Get("ui_locales")),
		Source: sourceOf(r.Header, ""),
	}
	start, err := o.svc.beginAuthorization(ctx, a, cookieValue(r.Header, cookieSSO), cookieValue(r.Header, cookieBinding))
	var retry *RetryError
	switch {
	case errors.Is(err, errLoginRequired):
		return nil, oidc.ErrLoginRequired()
	case errors.As(err, &retry):
		return nil, oidc.ErrAccessDenied().WithDescription("too many sign-in requests: try again in a minute")
	case err != nil:
		return nil, o.svc.oidcServerError(ctx, "authorize", err)
	}
	if start.RedirectURL != "" {
		return op.NewRedirect(start.RedirectURL), nil
	}
	next := pathLogin
	if start.NeedCode {
		next = pathCode
	}
	red := op.NewRedirect(strings.TrimSuffix(o.svc.cfg.Issuer, "/") + next + "?ar=" + start.RequestID)
	red.Header.Add("Set-Cookie", o.svc.cookie(cookieBinding, start.Binding, o.svc.cfg.AuthRequestTTL).String())
	return red, nil
}

// VerifyClient authenticates the client at the token and revocation
// endpoints: a public client by its id alone (its code needs the PKCE
// verifier), a confidential one by its secret, in the way it registered,
// with the token endpoint's throttling of failures (clients.go).
func (o *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	cc := r.Data
	if cc.ClientAssertion != "" {
		c, err := o.svc.authenticateAssertion(ctx, cc.ClientAssertion, cc.ClientID, endpointURL(o.svc.cfg.Issuer, r.URL), sourceOf(r.Header, ""))
		if err != nil {
			return nil, clientAuthError(err)
		}
		return &opClient{c: c}, nil
	}
	c, err := o.svc.Client(ctx, cc.ClientID)
	if err != nil && !errors.Is(err, ErrClientNotFound) {
		return nil, oidc.ErrServerError()
	}
	if err == nil && c.Public {
		if cc.ClientSecret != "" || c.Disabled {
			return nil, invalidClient()
		}
		return &opClient{c: c}, nil
	}
	_, _, basic := (&http.Request{Header: r.Header}).BasicAuth()
	c, err = o.svc.authenticateTokenClient(ctx, cc.ClientID, cc.ClientSecret, sourceOf(r.Header, ""))
	if err != nil {
		return nil, clientAuthError(err)
	}
	if basic != (c.TokenAuthMethod == AuthMethodBasic) {
		return nil, invalidClient()
	}
	return &opClient{c: c}, nil
}

// clientAuthError is the OAuth error of a failed client authentication.
func clientAuthError(err error) error {
	var retry *RetryError
	switch {
	case errors.Is(err, ErrInvalidClient):
		return invalidClient()
	case errors.As(err, &retry):
		return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("%s", retry.Msg), http.StatusTooManyRequests)
	}
	return oidc.ErrServerError()
}

// oidcServerError logs err, an unexpected failure of the OpenID
// Provider's step what, and returns the server_error a client is shown
// instead (it never carries err's text).
func (s *Service) oidcServerError(ctx context.Context, what string, err error) error {
	s.Logger.ErrorContext(ctx, "auth: "+what+" failed", slog.String("error", err.Error()))
	return oidc.ErrServerError()
}

// endpointURL is the URL of the endpoint a request reached, under the
// issuer (an audience a client assertion may name).
func endpointURL(issuer string, u *url.URL) string {
	if u == nil {
		return ""
	}
	return strings.TrimSuffix(issuer, "/") + u.Path
}

// oauthTokenResponse is the RFC 6749 section 5.1 answer.
func oauthTokenResponse(p TokenPair, idToken string, scopes []string) *op.Response {
	resp := op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: p.AccessToken, TokenType: oidc.BearerToken, RefreshToken: p.RefreshToken,
		ExpiresIn: uint64(p.ExpiresIn / time.Second), IDToken: idToken, Scope: scopes,
	})
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("Pragma", "no-cache")
	return resp
}

// CodeExchange is the authorization_code grant (authorize.go exchangeCode).
func (o *opServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	g, err := o.svc.exchangeCode(ctx, r.Client.GetID(), r.Data.Code, r.Data.RedirectURI, r.Data.CodeVerifier)
	switch {
	case errors.Is(err, errCodeInvalid):
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or used, or the redirect_uri or code_verifier does not match")
	case err != nil:
		return nil, o.svc.oidcServerError(ctx, "code exchange", err)
	}
	return oauthTokenResponse(g.Tokens, g.IDToken, g.Scopes), nil
}

// ClientCredentialsExchange is the client_credentials grant of a client
// that authenticates with private_key_jwt (its assertion verified, its jti
// spent, by VerifyClient): the same client token, scopes and checks as
// the gateway's secret-based path (IssueToken).
func (o *opServer) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	c := r.Client.(*opClient).c
	if c.Public || c.TokenAuthMethod != AuthMethodPrivateKeyJWT {
		return nil, invalidClient()
	}
	p, err := o.svc.clientCredentials(ctx, c, []string(r.Data.Scope))
	switch {
	case errors.Is(err, ErrInvalidScope):
		return nil, oidc.ErrInvalidScope().WithDescription("a scope was asked that the client does not hold")
	case err != nil:
		return nil, o.svc.oidcServerError(ctx, "client credentials", err)
	}
	return oauthTokenResponse(p, "", strings.Fields(p.Scope)), nil
}

// RefreshToken is the refresh_token grant of code-flow clients: it
// rotates the token as Refresh does (reuse ends the session).
func (o *opServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	g, err := o.svc.refreshForClient(ctx, r.Client.GetID(), r.Data.RefreshToken)
	switch {
	case errors.Is(err, ErrInvalidGrant):
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid, expired or revoked")
	case err != nil:
		return nil, o.svc.oidcServerError(ctx, "refresh", err)
	}
	for _, asked := range r.Data.Scopes {
		if !slices.Contains(g.Scopes, asked) {
			return nil, oidc.ErrInvalidScope()
		}
	}
	return oauthTokenResponse(g.Tokens, g.IDToken, g.Scopes), nil
}

// UserInfo answers the claims of the token's scopes (OpenID Connect Core
// section 5.3): profile (names, locale, the identity-proofing level) and
// phone. The national ID is never among them.
func (o *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	claims, err := o.svc.userInfo(ctx, r.Data.AccessToken)
	switch {
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrSessionEnded), errors.Is(err, ErrCitizenTokenRequired):
		return nil, op.NewStatusError(&oidc.Error{ErrorType: "invalid_token", Description: "the access token is invalid, expired, or not for userinfo"}, http.StatusUnauthorized)
	case err != nil:
		return nil, o.svc.oidcServerError(ctx, "userinfo", err)
	}
	return op.NewResponse(claims), nil
}

// userInfo verifies a code-flow access token and returns its claims.
func (s *Service) userInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	p, err := s.VerifyAccessToken(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	if !p.IsCitizen() || !slices.Contains(p.Scopes, ScopeOpenID) {
		return nil, ErrCitizenTokenRequired
	}
	if err := s.requireSession(ctx, s.DB, p); err != nil {
		return nil, err
	}
	c, err := selectCitizen(ctx, s.DB, p.Subject)
	if store.IsNoRows(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("auth: userinfo: %w", err)
	}
	out := map[string]any{"sub": c.ID}
	if slices.Contains(p.Scopes, ScopeProfile) {
		out["name"] = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
		out["given_name"] = c.GivenName
		out["family_name"] = c.FamilyName
		out["locale"] = c.PreferredLanguage
		// How the citizen's identity was proofed: self (registered
		// online) or in_person (checked at a ministry).
		out[ClaimProofingLevel] = c.ProofingLevel
	}
	if slices.Contains(p.Scopes, ScopePhone) {
		out["phone_number"] = c.PhoneNumber
		out["phone_number_verified"] = c.PhoneVerified
	}
	if slices.Contains(p.Scopes, ScopeEmail) && c.Email != "" {
		out["email"] = c.Email
		out["email_verified"] = false
	}
	return out, nil
}

// Revocation revokes a refresh token of the client's (RFC 7009): the
// grant it belongs to (revokeRefreshToken). Unknown tokens and other
// clients' are no error.
func (o *opServer) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	if err := o.svc.revokeRefreshToken(ctx, r.Client.GetID(), r.Data.Token); err != nil {
		return nil, o.svc.oidcServerError(ctx, "revocation", err)
	}
	return op.NewResponse(struct{}{}), nil
}

// revokeRefreshToken revokes the grant of a refresh token the client owns
// (its token family, azp = the client): it and every later refresh token
// of the family stop working. It does not end the citizen's single
// sign-on session: revoking one ministry app's grant (an app forgetting
// its tokens) must not sign the citizen out of every other app; signing
// out is RP-initiated logout (end_session), which ends the session, its
// access tokens at the gateway and the other apps' sessions by
// back-channel. The grant's access tokens are self-contained JWTs and live
// out their AccessTokenTTL (RFC 7009 section 2 allows it), which is why
// that TTL is short.
func (s *Service) revokeRefreshToken(ctx context.Context, clientID, token string) error {
	if !strings.HasPrefix(token, "rt_") || len(token) > 100 {
		return nil
	}
	r, err := selectRefreshToken(ctx, s.DB, mac(s.keys.lookup, "refresh", token))
	if store.IsNoRows(err) || (err == nil && r.Family.AZP != clientID) {
		return nil
	}
	if err != nil {
		return err
	}
	return revokeFamily(ctx, s.DB, r.Family.ID, revokeRevocation, s.Now())
}

// Introspect answers RFC 7662 token introspection for confidential
// clients, about their own tokens only: a code-flow access or refresh
// token the client was given (azp), or its own client_credentials token.
// Anything else, unknown, expired or of an ended session is
// {"active": false}.
func (o *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	cl, err := o.VerifyClient(ctx, &op.Request[op.ClientCredentials]{Method: r.Method, URL: r.URL, Header: r.Header, Form: r.Form, Data: r.Data.ClientCredentials})
	if err != nil {
		return nil, err
	}
	c := cl.(*opClient).c
	if c.Public {
		return nil, invalidClient()
	}
	out, err := o.svc.introspect(ctx, c.ID, r.Data.Token)
	if err != nil {
		return nil, o.svc.oidcServerError(ctx, "introspection", err)
	}
	return op.NewResponse(out), nil
}

// introspect is the RFC 7662 answer about token for clientID.
func (s *Service) introspect(ctx context.Context, clientID, token string) (map[string]any, error) {
	inactive := map[string]any{"active": false}
	if strings.HasPrefix(token, "rt_") {
		if len(token) > 100 {
			return inactive, nil
		}
		r, err := selectRefreshToken(ctx, s.DB, mac(s.keys.lookup, "refresh", token))
		if store.IsNoRows(err) {
			return inactive, nil
		}
		if err != nil {
			return nil, err
		}
		if r.Family.AZP != clientID || r.Revoked || r.Used || !s.Now().Before(r.ExpiresAt) {
			return inactive, nil
		}
		return map[string]any{"active": true, "token_type": "refresh_token", "client_id": clientID, "sub": r.Family.CitizenID,
			"scope": strings.Join(r.Family.Scopes, " "), "exp": r.ExpiresAt.Unix(), "iss": s.cfg.Issuer, "sid": r.Family.SessionID,
			"acr": r.Family.ACR, "auth_time": r.Family.AuthTime.Unix()}, nil
	}
	p, err := s.VerifyAccessToken(ctx, token)
	if err != nil {
		return inactive, nil
	}
	switch {
	case p.IsCitizen() && p.AZP == clientID:
		if err := s.requireSession(ctx, s.DB, p); errors.Is(err, ErrSessionEnded) {
			return inactive, nil
		} else if err != nil {
			return nil, err
		}
	case p.IsClient() && p.ClientID == clientID:
	default:
		return inactive, nil
	}
	out := map[string]any{"active": true, "token_type": "Bearer", "client_id": clientID, "sub": p.Subject,
		"scope": strings.Join(p.Scopes, " "), "iss": s.cfg.Issuer}
	if claims, err := unverifiedClaims(token); err == nil {
		for _, k := range []string{"exp", "iat", "aud", "jti"} {
			if v, ok := claims[k]; ok {
				out[k] = v
			}
		}
	}
	if p.IsCitizen() {
		out["acr"], out["amr"], out["auth_time"], out["sid"] = p.ACR, p.AMR, p.AuthTime.Unix(), p.SessionID
	}
	return out, nil
}

// unverifiedClaims reads the claims of a token already verified.
func unverifiedClaims(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, claims)
	return claims, err
}

// EndSession is RP-initiated logout: the session named by the ID token
// hint (or this browser's) ends everywhere, the browser's single sign-on
// cookie is cleared, and the browser returns to a registered
// post_logout_redirect_uri, else to a signed-out page.
func (o *opServer) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	s := o.svc
	d := r.Data
	sub, sid, aud := s.idTokenHint(ctx, d.IdTokenHint)
	clientID := d.ClientID
	if clientID == "" {
		clientID = aud
	}
	if sid == "" {
		if sso, ok, err := s.ssoSession(ctx, cookieValue(r.Header, cookieSSO), s.Now()); err == nil && ok {
			sub, sid = sso.CitizenID, sso.SessionID
		}
	}
	if sid != "" {
		if err := s.endSSOSession(ctx, sub, sid); err != nil {
			return nil, s.oidcServerError(ctx, "logout", err)
		}
	}
	target := strings.TrimSuffix(s.cfg.Issuer, "/") + pathSignedOut
	if d.PostLogoutRedirectURI != "" && clientID != "" {
		if c, err := s.Client(ctx, clientID); err == nil && !c.Disabled && c.PostLogoutAllowed(d.PostLogoutRedirectURI) {
			target = d.PostLogoutRedirectURI
			if d.State != "" {
				target = appendQuery(target, "state", d.State)
			}
		}
	}
	red := op.NewRedirect(target)
	red.Header.Add("Set-Cookie", s.cookie(cookieSSO, "", -1).String())
	return red, nil
}

// endSSOSession ends a session (session_revoked for the gateway) and
// forgets its browsers.
func (s *Service) endSSOSession(ctx context.Context, citizenID, sid string) error {
	now := s.Now()
	return s.Commit(ctx, func(tx *sql.Tx) error {
		if err := deleteSSOOfSession(ctx, tx, sid); err != nil {
			return err
		}
		return s.endSession(ctx, tx, familyRow{SessionID: sid, CitizenID: citizenID}, revokeLogout, now)
	})
}

// idTokenHint reads an ID token this provider signed, ES256 or RS256
// (expired ones too, as RP-initiated logout allows) and returns its sub,
// sid and aud.
func (s *Service) idTokenHint(ctx context.Context, raw string) (sub, sid, aud string) {
	if raw == "" || len(raw) > maxTokenBytes {
		return "", "", ""
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{AlgES256, AlgRS256}), jwt.WithoutClaimsValidation(), jwt.WithIssuer(s.cfg.Issuer))
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != idTokenType {
			return nil, errors.New("not an ID token")
		}
		kid, _ := t.Header["kid"].(string)
		return s.ring.verificationKey(ctx, kid)
	})
	if err != nil {
		return "", "", ""
	}
	if iss, _ := claims["iss"].(string); iss != s.cfg.Issuer {
		return "", "", ""
	}
	sub, _ = claims["sub"].(string)
	sid, _ = claims["sid"].(string)
	aud, _ = claims["aud"].(string)
	return sub, sid, aud
}

// appendQuery adds one query parameter to a URL.
func appendQuery(u, k, v string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + k + "=" + url.QueryEscape(v)
}

// cookie is one of the provider's cookies: HttpOnly, SameSite=Lax, under
// /oauth2/, Secure unless the issuer is http on a loopback address (dev);
// maxAge < 0 deletes it.
func (s *Service) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: PagesPrefix, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: true}
	if u, err := url.Parse(s.cfg.Issuer); err == nil && u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		c.Secure = !(u.Hostname() == "localhost" || ip != nil && ip.IsLoopback())
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// logoutParams are the RP-initiated logout parameters a confirmation
// page carries to its POST.
var logoutParams = []string{"client_id", "post_logout_redirect_uri", "state", "ui_locales"}

// logoutPage is the data of the logout confirmation page (pages/logout.html):
// the layout's pageData, so the shared layout finds every field it uses,
// and the logout parameters the form carries on.
type logoutPage struct {
	pageData
	Hidden []struct{ Name, Value string }
}

// confirmLogout guards RP-initiated logout against cross-site requests:
// with a valid id_token_hint (only the client holds it) or without a live
// single sign-on session in this browser, logout goes ahead (the
// provider's EndSession); otherwise the citizen confirms on a page whose
// form (POST, with a CSRF token bound to the session cookie) ends the
// session. A GET alone never ends it.
func (p *pages) confirmLogout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := p.svc
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenBytes+4<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if _, sid, _ := s.idTokenHint(r.Context(), r.Form.Get("id_token_hint")); sid != "" {
			next.ServeHTTP(w, r)
			return
		}
		token := cookieValue(r.Header, cookieSSO)
		_, live, err := s.ssoSession(r.Context(), token, s.Now())
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "auth: logout failed", slog.String("error", err.Error()))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		csrf := mac(s.keys.lookup, "logout_csrf", token)
		if !live || r.Method == http.MethodPost && macEqual(r.PostForm.Get("csrf"), csrf) {
			next.ServeHTTP(w, r)
			return
		}
		lang := langOf(r, r.Form.Get("ui_locales"))
		d := logoutPage{pageData: pageData{Lang: lang, Dir: "rtl", T: pageTexts[lang], CSRF: csrf, Title: "الخروج"}}
		if lang == "en" {
			d.Dir, d.Title = "ltr", "Sign out"
		}
		for _, k := range logoutParams {
			if v := r.Form.Get(k); v != "" && len(v) <= 2000 {
				d.Hidden = append(d.Hidden, struct{ Name, Value string }{k, v})
			}
		}
		var buf bytes.Buffer
		if err := pageTemplates.ExecuteTemplate(&buf, "logout.html", d); err != nil {
			s.Logger.Error("auth: render page", slog.String("page", "logout.html"), slog.String("error", err.Error()))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		formAction := "'self'"
		if c, err := s.Client(r.Context(), r.Form.Get("client_id")); err == nil && c.PostLogoutAllowed(r.Form.Get("post_logout_redirect_uri")) {
			formAction += " " + origin(r.Form.Get("post_logout_redirect_uri"))
		}
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	})
}

// parTTL is the life of a pushed authorization request (RFC 9126).
const parTTL = 60 * time.Second

// requestURIPrefix starts every request_uri the provider issues.
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// clientAuthFields are the form fields of client authentication, not
// stored with a pushed request.
var clientAuthFields = []string{"client_secret", "client_assertion", "client_assertion_type"}

// writeOAuthError writes an RFC 6749 section 5.2 error.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="tamkeen"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// pushAuthorization is the pushed authorization request endpoint (RFC
// 9126) for confidential clients: the client authenticates as at the
// token endpoint, its request is checked (registered redirect URI, code,
// PKCE S256) and stored for 60 s, and the answer is the request_uri to
// send the browser with: /oauth2/authorize?client_id=…&request_uri=….
func (o *opServer) pushAuthorization(w http.ResponseWriter, r *http.Request) {
	s := o.svc
	r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the form is malformed or too large")
		return
	}
	cc := &op.ClientCredentials{ClientID: r.PostForm.Get("client_id"), ClientSecret: r.PostForm.Get("client_secret"),
		ClientAssertion: r.PostForm.Get("client_assertion"), ClientAssertionType: r.PostForm.Get("client_assertion_type")}
	if id, secret, ok := r.BasicAuth(); ok {
		cc.ClientID, _ = url.QueryUnescape(id)
		cc.ClientSecret, _ = url.QueryUnescape(secret)
	}
	if cc.ClientAssertion != "" && cc.ClientAssertionType != oidc.ClientAssertionTypeJWTAssertion {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+oidc.ClientAssertionTypeJWTAssertion)
		return
	}
	cl, err := o.VerifyClient(r.Context(), &op.Request[op.ClientCredentials]{Method: r.Method, URL: r.URL, Header: r.Header, Form: r.Form, Data: cc})
	if err != nil {
		// The token endpoint's error writer: the same status codes.
		op.WriteError(w, r, err, s.Logger)
		return
	}
	c := cl.(*opClient).c
	f := r.PostForm
	switch {
	case c.Public:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "pushed authorization requests are for confidential clients")
		return
	case f.Get("client_id") != "" && f.Get("client_id") != c.ID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_id is not the authenticated client")
		return
	case f.Has("request_uri") || f.Has("request"):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "request_uri and request are not allowed here")
		return
	case f.Get("response_type") != "code":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_response_type", "response_type must be code")
		return
	case !c.RedirectAllowed(f.Get("redirect_uri")):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri is not registered for the client")
		return
	case f.Get("code_challenge") == "" || f.Get("code_challenge_method") != "S256":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
		return
	}
	params := url.Values{}
	for k, v := range f {
		if !slices.Contains(clientAuthFields, k) {
			params[k] = v
		}
	}
	params.Set("client_id", c.ID)
	random, err := s.randomToken("")
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	if err := insertPushedRequest(r.Context(), s.DB, mac(s.keys.lookup, "request_uri", random), c.ID, params.Encode(), s.Now().Add(parTTL)); err != nil {
		s.Logger.ErrorContext(r.Context(), "auth: pushed authorization request failed", slog.String("error", err.Error()))
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": requestURIPrefix + random, "expires_in": int(parTTL / time.Second)})
}

// pushedRequest replaces an authorization request that names a
// request_uri with the parameters pushed for it (once, within 60 s, by
// the same client_id); an unknown, used or expired one gets the error
// page.
func (p *pages) pushedRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ref := q.Get("request_uri")
		if ref == "" {
			next.ServeHTTP(w, r)
			return
		}
		lang := pageLang(q.Get("ui_locales"))
		random, ok := strings.CutPrefix(ref, requestURIPrefix)
		if !ok || len(random) > 100 || q.Get("client_id") == "" {
			p.message(w, r, http.StatusBadRequest, lang, "error_title", pageTexts[lang]["expired"])
			return
		}
		s := p.svc
		params, ok, err := usePushedRequest(r.Context(), s.DB, mac(s.keys.lookup, "request_uri", random), q.Get("client_id"), s.Now())
		if err != nil {
			s.Logger.ErrorContext(r.Context(), "auth: pushed authorization request failed", slog.String("error", err.Error()))
			p.message(w, r, http.StatusInternalServerError, lang, "error_title", pageTexts[lang]["server"])
			return
		}
		if !ok {
			p.message(w, r, http.StatusBadRequest, lang, "error_title", pageTexts[lang]["expired"])
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery, r2.Form, r2.PostForm = params, nil, nil
		next.ServeHTTP(w, r2)
	})
}
