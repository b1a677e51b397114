package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// TestOIDCProtocolEndToEnd is issue 14's protocol features through
// `tamkeen dev` and its gateway, with independent libraries: a ministry
// client registered with `tamkeen clients create --token-auth-method
// private_key_jwt --jwks-file … --backchannel-logout-uri …
// --id-token-alg RS256` signs its assertions with golang-jwt and a key
// the test generates; x/oauth2 runs the code flow, go-oidc verifies the
// RS256 ID token; a replayed assertion is refused; RP-initiated logout
// sends a logout token to the registered receiver, which verifies it
// against the published JWKS with golang-jwt.
func TestOIDCProtocolEndToEnd(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	dir := t.TempDir()
	base, logs := startDevIn(t, dir, clock, nil)
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})

	const phone, password = "+970599765433", "zaytoun-tree-1949"
	id := nationalID("41234568")
	seen := map[string]bool{}
	var reg struct {
		CitizenID         string `json:"citizen_id"`
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
		} `json:"phone_verification"`
	}
	call := func(method, path string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, body: body}
	}
	if resp, raw := call("POST", "/v1/citizens", map[string]string{
		"national_id": id, "phone_number": phone, "password": password, "given_name": "سلمى", "family_name": "Khalil",
	}).do(&reg); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify",
		map[string]string{"code": latestCode(t, base, phone, seen)}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("phone verification = %d %s", resp.StatusCode, raw)
	}

	// The ministry's back-channel logout receiver.
	var (
		mu      sync.Mutex
		logouts []string
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		logouts = append(logouts, r.PostForm.Get("logout_token"))
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)

	// The ministry's key, and its registration with the CLI.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "moh-1", Algorithm: "RS256", Use: "sig"}}})
	must(t, err)
	jwksFile := filepath.Join(t.TempDir(), "moh.jwks.json")
	must(t, os.WriteFile(jwksFile, set, 0o600))
	const callback = "https://moh.example/callback"
	code, out, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-web", "--name", "MoH web",
		"--organization", "Ministry of Health", "--redirect-uris", callback, "--token-auth-method", "private_key_jwt",
		"--jwks-file", jwksFile, "--backchannel-logout-uri", receiver.URL+"/backchannel", "--id-token-alg", "RS256",
		"--ministry", "moh", "--scopes", "templates:read")
	if code != 0 || strings.Contains(out, "secret:") {
		t.Fatalf("clients create = %d\n%s\n%s; want a client without a secret", code, out, errOut)
	}

	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	var meta struct {
		TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		IDTokenAlgs              []string `json:"id_token_signing_alg_values_supported"`
		Introspection            string   `json:"introspection_endpoint"`
		PAR                      string   `json:"pushed_authorization_request_endpoint"`
		Backchannel              bool     `json:"backchannel_logout_supported"`
		BackchannelSession       bool     `json:"backchannel_logout_session_supported"`
	}
	must(t, provider.Claims(&meta))
	if strings.Join(meta.IDTokenAlgs, " ") != "ES256 RS256" || !strings.Contains(strings.Join(meta.TokenEndpointAuthMethods, " "), "private_key_jwt") ||
		meta.Introspection != base+"/oauth2/introspect" || meta.PAR != base+"/oauth2/par" || !meta.Backchannel || !meta.BackchannelSession {
		t.Errorf("discovery = %+v", meta)
	}

	tokenURL := provider.Endpoint().TokenURL
	assertion := func(jti string) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "moh-web", "sub": "moh-web", "aud": tokenURL, "jti": jti,
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		tok.Header["kid"] = "moh-1"
		s, err := tok.SignedString(key)
		must(t, err)
		return s
	}
	withAssertion := func(a string) []oauth2.AuthCodeOption {
		return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", a)}
	}
	rp := oauth2.Config{ClientID: "moh-web", Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	rp.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	browser := newRPBrowser(t, base)
	signIn := func() (string, string) {
		verifier, state := oauth2.GenerateVerifier(), randomString(t)
		p := browser.follow("GET", rp.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-"+state)), nil)
		if strings.Contains(p.body, `name="national_id"`) {
			form := formOf(t, p)
			form.Set("national_id", id)
			form.Set("password", password)
			p = browser.follow("POST", "/oauth2/login", form)
		}
		q := callbackParams(t, p, callback)
		if q.Get("state") != state {
			t.Fatalf("callback state = %q; want %q", q.Get("state"), state)
		}
		return q.Get("code"), verifier
	}

	first := assertion(randomString(t))
	code1, verifier1 := signIn()
	tok, err := rp.Exchange(ctx, code1, append(withAssertion(first), oauth2.VerifierOption(verifier1))...)
	if err != nil {
		t.Fatalf("code exchange with private_key_jwt: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: "moh-web", Now: clock.Now, SupportedSigningAlgs: []string{"RS256"}}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc RS256 ID token verification: %v", err)
	}
	var idClaims struct {
		SID string `json:"sid"`
	}
	must(t, idToken.Claims(&idClaims))
	if idToken.Subject != reg.CitizenID || idClaims.SID == "" {
		t.Errorf("ID token sub %q sid %q", idToken.Subject, idClaims.SID)
	}

	// The same assertion for a second code: invalid_client, as JSON.
	code2, verifier2 := signIn()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {callback}, "code_verifier": {verifier2},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {first}}
	if st, ct, e := oauthError(t, tokenURL, form); st != http.StatusUnauthorized || e != "invalid_client" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("replayed assertion = %d %s %q; want 401 application/json invalid_client", st, ct, e)
	}
	// A fresh assertion takes the second code.
	form.Set("client_assertion", assertion(randomString(t)))
	if st, _, e := oauthError(t, tokenURL, form); st != http.StatusOK {
		t.Errorf("second code with a fresh assertion = %d %q; want 200", st, e)
	}

	// The ministry's backend: client_credentials with a private_key_jwt
	// assertion instead of a secret. Its client token works on a route of
	// its scope; the same assertion again is refused.
	ccAssertion := assertion(randomString(t))
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"templates:read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {ccAssertion}}
	resp, err := http.PostForm(tokenURL, cc)
	must(t, err)
	var ccTok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	ccRaw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(ccRaw, &ccTok); err != nil || resp.StatusCode != http.StatusOK || ccTok.AccessToken == "" || ccTok.Scope != "templates:read" {
		t.Fatalf("client_credentials with private_key_jwt = %d %s; want a token with scope templates:read", resp.StatusCode, ccRaw)
	}
	if code, out, errOut := runTool(t, "rights", "grant", "--data-dir", dir, "--id", "moh-web", "--right", "notification/ListTemplates"); code != 0 {
		t.Fatalf("rights grant = %d\n%s\n%s", code, out, errOut)
	}
	var listed *http.Response
	var listedRaw []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// The gateway's rights cache refreshes within seconds.
		listed, listedRaw = (apiCall{t: t, base: base, method: "GET", path: "/v1/templates", token: ccTok.AccessToken}).do(nil)
		if listed.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if resp, raw := listed, listedRaw; resp.StatusCode != http.StatusOK {
		t.Errorf("its templates with the private_key_jwt client token = %d %s; want 200", resp.StatusCode, raw)
	}
	if st, ct, e := oauthError(t, tokenURL, cc); st != http.StatusUnauthorized || e != "invalid_client" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("client_credentials with a replayed assertion = %d %s %q; want 401 invalid_client", st, ct, e)
	}

	// RP-initiated logout with the ID token as hint: the receiver gets a
	// logout token through the outbox.
	if p := browser.visit("GET", "/oauth2/logout?"+url.Values{"id_token_hint": {rawID}}.Encode(), nil); p.status != http.StatusFound {
		t.Fatalf("logout = %d %q", p.status, p.location)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(logouts)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	got := append([]string(nil), logouts...)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("back-channel logout tokens received = %d; want 1", len(got))
	}
	resp, err = http.Get(base + "/.well-known/jwks.json")
	must(t, err)
	rawSet, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var published jose.JSONWebKeySet
	must(t, json.Unmarshal(rawSet, &published))
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(got[0], claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if ks := published.Key(kid); len(ks) == 1 {
			return ks[0].Key, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256", "ES256"}), jwt.WithAudience("moh-web"), jwt.WithIssuer(base), jwt.WithTimeFunc(clock.Now))
	if err != nil {
		t.Fatalf("the logout token does not verify against the JWKS: %v", err)
	}
	events, _ := claims["events"].(map[string]any)
	if parsed.Header["typ"] != "logout+jwt" || claims["sid"] != idClaims.SID || claims["nonce"] != nil || claims["jti"] == nil ||
		events == nil || events["http://schemas.openid.net/event/backchannel-logout"] == nil {
		t.Errorf("logout token header %v claims %v", parsed.Header, claims)
	}

	for _, secret := range []string{id, password, first, tok.AccessToken, tok.RefreshToken, got[0]} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs contain a secret or PII value (%.12s…)", secret)
		}
	}
}
