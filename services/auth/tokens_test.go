package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// oidcServer serves the service's discovery document and JWKS over HTTP,
// as the gateway does (snake_case protojson), with the issuer set to the
// server's own URL.
func oidcServer(t *testing.T) (*testEnv, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := sqliteEnv(t, func(c *Config) { c.Issuer = srv.URL })
	serve := func(f func(ctx context.Context) (proto.Message, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			m, err := f(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	}
	mux.Handle("GET /.well-known/openid-configuration", serve(func(ctx context.Context) (proto.Message, error) {
		return e.srv.GetOpenIdConfiguration(ctx, &authv1.GetOpenIdConfigurationRequest{})
	}))
	mux.Handle("GET /.well-known/jwks.json", serve(func(ctx context.Context) (proto.Message, error) {
		return e.srv.GetJwks(ctx, &authv1.GetJwksRequest{})
	}))
	return e, srv
}

// jwtHeader decodes a JWT's header.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	must(t, err, "header")
	var h map[string]any
	must(t, json.Unmarshal(b, &h), "header")
	return h
}

// TestOIDCClientVerifiesTokens has an independent OpenID Connect library
// discover the issuer and verify citizen and client tokens, before and
// after a key rotation.
func TestOIDCClientVerifiesTokens(t *testing.T) {
	e, srv := oidcServer(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "tamkeen", SupportedSigningAlgs: []string{"ES256"}, Now: e.clock.Now})

	citizenID, pair := e.citizen(t, "12345678")
	if pair.ACR != ACRPassword || pair.TokenType != "Bearer" || pair.ExpiresIn != 10*time.Minute || !strings.HasPrefix(pair.RefreshToken, "rt_") {
		t.Errorf("login pair = %+v; want a loa1 Bearer pair of 10 minutes", pair)
	}
	tok, err := verifier.Verify(ctx, pair.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc Verify(citizen token) = %v", err)
	}
	var claims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		JTI      string   `json:"jti"`
		IAT      int64    `json:"iat"`
		ClientID *string  `json:"client_id"`
		Scope    *string  `json:"scope"`
	}
	must(t, tok.Claims(&claims))
	if tok.Subject != citizenID || tok.Issuer != srv.URL || !slices.Equal(tok.Audience, []string{"tamkeen"}) ||
		claims.ACR != "loa1" || !slices.Equal(claims.AMR, []string{"pwd"}) || claims.AuthTime != e.clock.Now().Unix() ||
		claims.JTI == "" || claims.IAT != e.clock.Now().Unix() || claims.ClientID != nil || claims.Scope != nil {
		t.Errorf("citizen token: sub %s iss %s aud %v claims %+v", tok.Subject, tok.Issuer, tok.Audience, claims)
	}
	if !tok.Expiry.Equal(e.clock.Now().Add(10 * time.Minute)) {
		t.Errorf("exp = %v; want 10 minutes after issue", tok.Expiry)
	}
	h := jwtHeader(t, pair.AccessToken)
	oldKid, _ := h["kid"].(string)
	if h["alg"] != "ES256" || h["typ"] != "at+jwt" || oldKid == "" {
		t.Errorf("header = %v; want ES256, at+jwt and a kid", h)
	}

	// Rotation: the old token still verifies, new ones carry the new kid.
	kid, err := e.svc.RotateSigningKey(ctx)
	if err != nil || kid == oldKid {
		t.Fatalf("RotateSigningKey = %q, %v; want a new kid", kid, err)
	}
	pair2, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword})
	must(t, err, "Login after rotation")
	if got := jwtHeader(t, pair2.AccessToken)["kid"]; got != kid {
		t.Errorf("kid after rotation = %v; want %s", got, kid)
	}
	for name, token := range map[string]string{"old": pair.AccessToken, "new": pair2.AccessToken} {
		if _, err := verifier.Verify(ctx, token); err != nil {
			t.Errorf("go-oidc Verify(%s-key token) = %v; want it valid", name, err)
		}
	}
	jwks, err := e.svc.Jwks(ctx)
	// ES256 and RS256 (ID tokens of clients that ask for it) rotate
	// together: the old and new key of each.
	if err != nil || len(jwks) != 4 || jwks[0].Alg != "ES256" || jwks[1].Alg != "ES256" || jwks[2].Alg != "RS256" || jwks[3].Alg != "RS256" {
		t.Fatalf("Jwks after rotation = %v, %v; want the old and new ES256 and RS256 keys", jwks, err)
	}

	// Once every token of the old keys has expired, they leave the JWKS.
	e.clock.Advance(e.svc.cfg.AccessTokenTTL + e.svc.cfg.KeyCacheTTL + time.Minute + time.Second)
	jwks, err = e.svc.Jwks(ctx)
	if err != nil || len(jwks) != 2 || jwks[0].Kid != kid || jwks[1].Alg != "RS256" || jwks[1].N == "" || jwks[1].E != "AQAB" {
		t.Errorf("Jwks later = %v, %v; want only %s and the new RS256 key", jwks, err, kid)
	}

	// A client token: client_id and scope, no acr.
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Secret: "0123456789abcdef", Scopes: []string{scope.ContentRead}}))
	ct, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moh-portal", ClientSecret: "0123456789abcdef"})
	must(t, err)
	tok, err = verifier.Verify(ctx, ct.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc Verify(client token) = %v", err)
	}
	var cc map[string]any
	must(t, tok.Claims(&cc))
	if cc["client_id"] != "moh-portal" || cc["sub"] != "moh-portal" || cc["scope"] != scope.ContentRead || cc["acr"] != nil || cc["amr"] != nil {
		t.Errorf("client token claims = %v", cc)
	}
}

func TestDiscoveryDocument(t *testing.T) {
	e := sqliteEnv(t, func(c *Config) { c.Issuer = "https://api.tamkeen.ps" })
	d, err := e.srv.GetOpenIdConfiguration(context.Background(), &authv1.GetOpenIdConfigurationRequest{})
	must(t, err)
	if d.GetIssuer() != "https://api.tamkeen.ps" || d.GetJwksUri() != "https://api.tamkeen.ps/.well-known/jwks.json" ||
		d.GetTokenEndpoint() != "https://api.tamkeen.ps/oauth2/token" || !slices.Equal(d.GetAcrValuesSupported(), []string{"loa1", "loa2"}) ||
		!slices.Equal(d.GetIdTokenSigningAlgValuesSupported(), []string{"ES256", "RS256"}) || !slices.Contains(d.GetGrantTypesSupported(), "client_credentials") {
		t.Errorf("discovery = %v", d)
	}
	// The code flow is advertised as it works: code only, PKCE S256 only.
	if d.GetAuthorizationEndpoint() != "https://api.tamkeen.ps/oauth2/authorize" || d.GetUserinfoEndpoint() != "https://api.tamkeen.ps/oauth2/userinfo" ||
		d.GetEndSessionEndpoint() != "https://api.tamkeen.ps/oauth2/logout" || d.GetRevocationEndpoint() != "https://api.tamkeen.ps/oauth2/revoke" ||
		!slices.Equal(d.GetResponseTypesSupported(), []string{"code"}) || !slices.Equal(d.GetCodeChallengeMethodsSupported(), []string{"S256"}) ||
		!slices.Equal(d.GetGrantTypesSupported(), []string{"authorization_code", "refresh_token", "client_credentials"}) {
		t.Errorf("discovery of the code flow = %v", d)
	}
	for _, sc := range []string{"openid", "profile", "phone", "email", scope.PaymentsWrite} {
		if !slices.Contains(d.GetScopesSupported(), sc) {
			t.Errorf("scopes_supported lacks %s: %v", sc, d.GetScopesSupported())
		}
	}
	// The first-party login scope is granted, never asked for: not advertised.
	if slices.Contains(d.GetScopesSupported(), scope.PasswordLogin) {
		t.Errorf("scopes_supported lists %s: %v", scope.PasswordLogin, d.GetScopesSupported())
	}
}

func TestVerifyAccessTokenRefuses(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")
	other := sqliteEnv(t, nil) // same KEK and issuer, its own keys
	_, foreign := other.citizen(t, "12345678")
	otherAud := sqliteEnv(t, func(c *Config) { c.Audience = "elsewhere" })
	_, wrongAud := otherAud.citizen(t, "12345678")

	if _, err := e.svc.VerifyAccessToken(ctx, pair.AccessToken); err != nil {
		t.Fatalf("VerifyAccessToken(own) = %v", err)
	}
	for name, token := range map[string]string{
		"signed by another key": foreign.AccessToken,
		"another audience":      wrongAud.AccessToken,
		"refresh token":         pair.RefreshToken,
		"garbage":               "a.b.c",
		"empty":                 "",
	} {
		if _, err := e.svc.VerifyAccessToken(ctx, token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyAccessToken(%s) = %v; want ErrInvalidToken", name, err)
		}
	}
	e.clock.Advance(10*time.Minute + verifyLeeway + time.Second)
	if _, err := e.svc.VerifyAccessToken(ctx, pair.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyAccessToken(expired) = %v; want ErrInvalidToken", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		_, first := e.citizen(t, "12345678")

		second, err := e.svc.Refresh(ctx, first.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.ACR != ACRPassword {
			t.Errorf("Refresh did not rotate: %+v", second)
		}
		if p := e.principal(t, second.AccessToken); p.ACR != ACRPassword || p.AuthTime != e.clock.Now() {
			t.Errorf("refreshed token = %+v; want the login's acr and auth_time", p)
		}
		third, err := e.svc.Refresh(ctx, second.RefreshToken)
		must(t, err, "second refresh")

		// Presenting the first token again is reuse: the whole family goes.
		_, err = e.srv.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: first.RefreshToken})
		if status.Code(err) != codes.Unauthenticated || rpcerr.Reason(err) != "invalid_grant" {
			t.Fatalf("Refresh(reused) = %v; want Unauthenticated invalid_grant", err)
		}
		if _, err := e.svc.Refresh(ctx, third.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Refresh(latest of a revoked family) = %v; want ErrInvalidGrant", err)
		}

		// Another login is another family, untouched; logout revokes it.
		pair, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword})
		must(t, err)
		next, err := e.svc.Refresh(ctx, pair.RefreshToken)
		must(t, err, "refresh of a fresh family")
		if _, err := e.srv.Logout(ctx, &authv1.LogoutRequest{RefreshToken: pair.RefreshToken}); err != nil {
			t.Fatalf("Logout = %v", err)
		}
		if _, err := e.svc.Refresh(ctx, next.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Refresh after logout = %v; want ErrInvalidGrant", err)
		}
		if err := e.svc.Logout(ctx, "rt_unknown"); err != nil {
			t.Errorf("Logout(unknown) = %v; want nil (RFC 7009)", err)
		}
		for _, bad := range []string{"", "rt_unknown", "not-a-token"} {
			if _, err := e.svc.Refresh(ctx, bad); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("Refresh(%q) = %v; want ErrInvalidGrant", bad, err)
			}
		}

		// Refresh tokens expire.
		p2, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword})
		must(t, err)
		e.clock.Advance(e.svc.cfg.RefreshTokenTTL)
		if _, err := e.svc.Refresh(ctx, p2.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Refresh(expired) = %v; want ErrInvalidGrant", err)
		}
	})
}

func TestLoginRehashesWhenParametersChange(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, nil)
	ctx := context.Background()
	id, _ := e.citizen(t, "12345678")

	// The same database under stronger parameters: the next login upgrades.
	e2 := newEnv(t, db, func(c *Config) { c.Argon2Time = 2 })
	if _, err := e2.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword}); err != nil {
		t.Fatalf("Login = %v", err)
	}
	var hash string
	must(t, db.QueryRowContext(ctx, `SELECT password_hash FROM citizens WHERE id = $1`, id).Scan(&hash))
	if !strings.Contains(hash, "t=2,") {
		t.Errorf("hash after login = %s; want it re-made with t=2", hash)
	}
	if _, err := e2.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword}); err != nil {
		t.Errorf("Login with the re-hashed password = %v", err)
	}
}

func TestHasherBoundsHashesInFlight(t *testing.T) {
	h := newHasher(1, 50*time.Millisecond)
	ctx := context.Background()
	must(t, h.acquire(ctx))
	err := h.acquire(ctx)
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("acquire with no free slot = %v; want a *RetryError", err)
	}
	h.release()
	must(t, h.acquire(ctx), "acquire after release")
	h.release()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	must(t, h.acquire(cctx), "a free slot is taken even with a done context")
}
