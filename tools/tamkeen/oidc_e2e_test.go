package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// rpBrowser is a browser for the code flow: a cookie jar, no JavaScript,
// and redirects followed until they leave the issuer (the relying party's
// loopback callback, where nothing needs to listen).
type rpBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newRPBrowser(t *testing.T, base string) *rpBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rpBrowser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is one answer the browser got.
type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

// visit sends one request (a form when form is set) without following
// redirects.
func (b *rpBrowser) visit(method, target string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header, body: string(raw)}
}

// follow visits target and follows redirects while they stay on the
// issuer; it returns the last page (a page to fill in, or the redirect to
// the relying party's callback).
func (b *rpBrowser) follow(method, target string, form url.Values) page {
	b.t.Helper()
	p := b.visit(method, target, form)
	for i := 0; i < 10 && (strings.HasPrefix(p.location, "/") || strings.HasPrefix(p.location, b.base+"/")); i++ {
		p = b.visit("GET", p.location, nil)
	}
	return p
}

var (
	csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	arInput   = regexp.MustCompile(`name="ar" value="([^"]+)"`)
)

// formOf reads the hidden fields of a hosted page's form.
func formOf(t *testing.T, p page) url.Values {
	t.Helper()
	c, a := csrfInput.FindStringSubmatch(p.body), arInput.FindStringSubmatch(p.body)
	if c == nil || a == nil {
		t.Fatalf("page (%d) has no form with ar and csrf:\n%s", p.status, p.body)
	}
	return url.Values{"csrf": {c[1]}, "ar": {a[1]}}
}

func randomString(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// callbackParams parses the relying party's callback URL.
func callbackParams(t *testing.T, p page, callback string) url.Values {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, callback+"?") {
		t.Fatalf("want a redirect to %s; got %d %q:\n%.2000s", callback, p.status, p.location, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// oauthError posts a token request and returns the status, content type
// and RFC 6749 error code of the answer.
func oauthError(t *testing.T, tokenURL string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := http.PostForm(tokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, resp.Header.Get("Content-Type"), e.Error
}

// TestOIDCCodeFlowEndToEnd is issue 14's first slice through `tamkeen dev`
// with an independent relying party (golang.org/x/oauth2 and
// github.com/coreos/go-oidc, not Tamkeen's code): discovery, the code
// flow with PKCE S256, nonce, state and acr_values=loa2 through the
// Arabic sign-in page and the SMS step-up, the ID token verified against
// the JWKS, userinfo, refresh, single sign-on, and the refusals a
// conformance-minded relying party checks.
func TestOIDCCodeFlowEndToEnd(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	base, logs := startDevWithClock(t, clock, nil)
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})

	// A citizen registers and verifies the phone, as in the auth e2e test.
	const phone, password = "+970599765432", "zaytoun-tree-1948"
	id := nationalID("41234567")
	seen := map[string]bool{}
	var reg struct {
		CitizenID         string `json:"citizen_id"`
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
		} `json:"phone_verification"`
	}
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	if resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": phone, "password": password, "given_name": "ليلى", "family_name": "Haddad",
	}).do(&reg); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify", "",
		map[string]string{"code": latestCode(t, base, phone, seen)}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("phone verification = %d %s", resp.StatusCode, raw)
	}

	// Discovery, at both well-known names, advertises what the flow uses.
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	var meta struct {
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		UserinfoEndpoint      string   `json:"userinfo_endpoint"`
		EndSessionEndpoint    string   `json:"end_session_endpoint"`
		ResponseTypes         []string `json:"response_types_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		GrantTypes            []string `json:"grant_types_supported"`
		ACRValues             []string `json:"acr_values_supported"`
	}
	must(t, provider.Claims(&meta))
	if meta.AuthorizationEndpoint != base+"/oauth2/authorize" || meta.UserinfoEndpoint != base+"/oauth2/userinfo" ||
		strings.Join(meta.ResponseTypes, " ") != "code" || strings.Join(meta.CodeChallengeMethods, " ") != "S256" ||
		strings.Join(meta.GrantTypes, " ") != "authorization_code refresh_token client_credentials" {
		t.Errorf("discovery = %+v", meta)
	}
	var rfc8414 struct {
		Issuer string `json:"issuer"`
	}
	if resp, raw := call("GET", "/.well-known/oauth-authorization-server", "", nil).do(&rfc8414); resp.StatusCode != 200 || rfc8414.Issuer != base {
		t.Errorf("/.well-known/oauth-authorization-server = %d %s", resp.StatusCode, raw)
	}

	const callback = "http://127.0.0.1:43123/callback"
	rp := oauth2.Config{
		ClientID: demo.PortalClientID, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "phone"},
	}
	rp.Endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the form
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(t), randomString(t)
	authURL := rp.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce), oauth2.SetAuthURLParam("acr_values", "loa2"))

	// The Arabic sign-in page, right to left, naming the ministry.
	browser := newRPBrowser(t, base)
	signIn := browser.follow("GET", authURL, nil)
	for _, want := range []string{`<html lang="ar" dir="rtl">`, `name="national_id"`, `autocomplete="username"`, `name="password"`,
		`autocomplete="current-password"`, demo.Organization} {
		if !strings.Contains(signIn.body, want) {
			t.Errorf("sign-in page lacks %s:\n%s", want, signIn.body)
		}
	}
	if csp := signIn.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("sign-in page CSP = %q", csp)
	}
	// The SMS cool-down since the registration SMS passes first.
	clock.Advance(61 * time.Second)
	form := formOf(t, signIn)
	form.Set("national_id", id)
	form.Set("password", password)
	codePage := browser.follow("POST", "/oauth2/login", form)
	if !strings.Contains(codePage.body, `name="code"`) || !strings.Contains(codePage.body, `autocomplete="one-time-code"`) {
		t.Fatalf("after the password, want the SMS code page; got %d:\n%s", codePage.status, codePage.body)
	}
	form = formOf(t, codePage)
	form.Set("code", latestCode(t, base, phone, seen))
	q := callbackParams(t, browser.follow("POST", "/oauth2/login/code", form), callback)
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback = %v; want the state and a code", q)
	}
	firstCode := q.Get("code")

	tok, err := rp.Exchange(ctx, firstCode, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: demo.PortalClientID, Now: clock.Now}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc ID token verification: %v", err)
	}
	var idClaims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		SID      string   `json:"sid"`
		AuthTime int64    `json:"auth_time"`
	}
	must(t, idToken.Claims(&idClaims))
	if idToken.Nonce != nonce || idToken.Subject != reg.CitizenID || idClaims.ACR != "loa2" || idClaims.SID == "" || idClaims.AuthTime == 0 ||
		strings.Join(idClaims.AMR, " ") != "pwd sms" {
		t.Errorf("ID token: nonce %q sub %q claims %+v; want the nonce, the citizen, acr loa2, amr pwd sms, sid, auth_time", idToken.Nonce, idToken.Subject, idClaims)
	}
	must(t, idToken.VerifyAccessToken(tok.AccessToken)) // at_hash

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var profile map[string]any
	must(t, info.Claims(&profile))
	if info.Subject != reg.CitizenID || profile["family_name"] != "Haddad" || profile["phone_number"] != phone || profile["phone_number_verified"] != true {
		t.Errorf("userinfo = %v", profile)
	}
	if strings.Contains(rawID, id) || strings.Contains(tok.AccessToken, id) || strings.Contains(info.Email+profile["name"].(string), id) {
		t.Error("the national ID reached a token or userinfo")
	}

	// The gateway verifies the code flow's access token like any other: a
	// route that needs a citizen at loa2 accepts it.
	if resp, raw := call("POST", "/v1/auth/totp:enroll", tok.AccessToken, map[string]string{}).do(nil); resp.StatusCode != http.StatusOK {
		t.Errorf("loa2 route with the code flow's token = %d %s; want 200", resp.StatusCode, raw)
	}

	// Refresh through x/oauth2's TokenSource.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := rp.TokenSource(ctx, &stale).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh = %v, %v; want a new access and refresh token", fresh, err)
	}

	// Single sign-on: a second request in the same browser gets a code
	// without the password.
	verifier2, state2 := oauth2.GenerateVerifier(), randomString(t)
	q = callbackParams(t, browser.follow("GET", rp.AuthCodeURL(state2, oauth2.S256ChallengeOption(verifier2), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("acr_values", "loa2")), nil), callback)
	if q.Get("state") != state2 || q.Get("code") == "" {
		t.Fatalf("SSO callback = %v", q)
	}
	if _, err := rp.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier2)); err != nil {
		t.Fatalf("SSO code exchange: %v", err)
	}

	// The first code again: invalid_grant, as JSON (RFC 6749 section 5.2).
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {firstCode}, "redirect_uri": {callback},
		"client_id": {demo.PortalClientID}, "code_verifier": {verifier}}
	if st, ct, code := oauthError(t, provider.Endpoint().TokenURL, exchange); st != http.StatusBadRequest || code != "invalid_grant" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("code used twice = %d %s %q; want 400 application/json invalid_grant", st, ct, code)
	}
	// Missing and wrong PKCE verifiers: invalid_grant.
	for name, v := range map[string]string{"missing verifier": "", "wrong verifier": oauth2.GenerateVerifier()} {
		ver := oauth2.GenerateVerifier()
		q := callbackParams(t, browser.follow("GET", rp.AuthCodeURL(randomString(t), oauth2.S256ChallengeOption(ver)), nil), callback)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {callback}, "client_id": {demo.PortalClientID}}
		if v != "" {
			form.Set("code_verifier", v)
		}
		if st, ct, code := oauthError(t, provider.Endpoint().TokenURL, form); st != http.StatusBadRequest || code != "invalid_grant" || !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s = %d %s %q; want 400 application/json invalid_grant", name, st, ct, code)
		}
	}
	// A redirect URI that is not registered is refused without a redirect.
	evil := rp
	evil.RedirectURL = "https://evil.example/callback"
	if p := browser.visit("GET", evil.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil); p.status != http.StatusBadRequest || p.location != "" ||
		!strings.Contains(p.body, `dir="rtl"`) {
		t.Errorf("unregistered redirect_uri = %d %q; want an error page and no redirect", p.status, p.location)
	}
	// prompt=none in a browser without a session: login_required at the
	// redirect URI.
	q = callbackParams(t, newRPBrowser(t, base).follow("GET", rp.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "none")), nil), callback)
	if q.Get("error") != "login_required" || q.Get("state") != state {
		t.Errorf("prompt=none without a session = %v; want error=login_required with the state", q)
	}
	// client_credentials still works at the same token endpoint (the
	// gateway's own grant).
	if st, _, code := oauthError(t, provider.Endpoint().TokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {demo.ClientID},
		"client_secret": {"wrong-wrong-wrong-wrong"}}); st != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("client_credentials with a wrong secret = %d %q; want 401 invalid_client", st, code)
	}

	for _, secret := range []string{id, password, firstCode, tok.AccessToken, tok.RefreshToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs contain a secret or PII value (%.12s…)", secret)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
