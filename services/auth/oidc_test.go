package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// oidcBrowser is a cookie-keeping client of the provider's handler that
// does not follow redirects.
type oidcBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newOIDCBrowser(t *testing.T, e *testEnv) *oidcBrowser {
	t.Helper()
	_, h := e.svc.Pages()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &oidcBrowser{t: t, base: srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request to a path (a URL under the issuer is rewritten to
// the test server) and returns the status, Location and body.
func (b *oidcBrowser) do(method, target string, form url.Values) (int, string, string) {
	b.t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.t.Fatal(err)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+u.RequestURI(), body)
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
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func pkcePair() (verifier, challenge string) {
	verifier = "verifier-verifier-verifier-verifier-verifier-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestCodeFlowWithStepUp runs the authorization code flow against the
// provider's handler: sign-in page, SMS step-up, code, exchange with PKCE,
// single use, userinfo, and single sign-on for a second request.
func TestCodeFlowWithStepUp(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	citizenID, _ := e.citizen(t, "40000001")
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "portal", Name: "Portal", Scopes: []string{ScopeProfile, ScopePhone, ScopeEmail}, Organization: "Ministry of Health", CodeFlow: CodeFlow{
		Public: true, Loopback: true, MaxACR: ACRStepUp, RedirectURIs: []string{"http://127.0.0.1/callback"},
	}}), "EnsureClient")
	e.clock.Advance(e.svc.cfg.SMSResendCooldown)
	b := newOIDCBrowser(t, e)
	verifier, challenge := pkcePair()
	authorize := url.Values{
		"client_id": {"portal"}, "redirect_uri": {"http://127.0.0.1:5555/callback"}, "response_type": {"code"},
		"scope": {"openid profile phone"}, "state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "acr_values": {"loa2"},
	}
	st, loc, body := b.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil)
	if st != http.StatusFound || !strings.Contains(loc, "/oauth2/login?ar=") {
		t.Fatalf("authorize = %d %q %s; want a redirect to the sign-in page", st, loc, body)
	}
	st, _, body = b.do("GET", loc, nil)
	if st != http.StatusOK || !strings.Contains(body, `<html lang="ar" dir="rtl">`) || !strings.Contains(body, `name="national_id"`) ||
		!strings.Contains(body, `name="password"`) || !strings.Contains(body, "Ministry of Health") {
		t.Fatalf("sign-in page = %d:\n%s", st, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	ar := mustQuery(t, loc, "ar")
	// A form without the CSRF token is refused.
	if st, _, _ := b.do("POST", "/oauth2/login", url.Values{"ar": {ar}, "national_id": {nationalID("40000001")}, "password": {testPassword}}); st != http.StatusBadRequest {
		t.Errorf("sign-in without CSRF = %d; want 400", st)
	}
	st, loc, body = b.do("POST", "/oauth2/login", url.Values{"ar": {ar}, "csrf": {m[1]}, "national_id": {nationalID("40000001")}, "password": {testPassword}})
	if st != http.StatusSeeOther || !strings.Contains(loc, "/oauth2/login/code?ar=") {
		t.Fatalf("sign-in = %d %q %s; want the code page", st, loc, body)
	}
	code := e.nextSMS(t).GetPersonalisation()["code"]
	_, _, body = b.do("GET", loc, nil)
	m = csrfField.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `name="code"`) {
		t.Fatalf("code page:\n%s", body)
	}
	st, loc, _ = b.do("POST", "/oauth2/login/code", url.Values{"ar": {ar}, "csrf": {m[1]}, "code": {code}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, "http://127.0.0.1:5555/callback?") || mustQuery(t, loc, "state") != "st" {
		t.Fatalf("code = %d %q; want the client's callback with the state", st, loc)
	}
	authCode := mustQuery(t, loc, "code")

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {authCode}, "redirect_uri": {"http://127.0.0.1:5555/callback"},
		"client_id": {"portal"}, "code_verifier": {verifier}}
	st, _, body = b.do("POST", "/oauth2/token", exchange)
	if st != http.StatusOK {
		t.Fatalf("exchange = %d %s", st, body)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	must(t, json.Unmarshal([]byte(body), &tok), "token response")
	p := e.principal(t, tok.AccessToken)
	if p.Subject != citizenID || p.ACR != ACRStepUp || p.AZP != "portal" || p.SessionID == "" {
		t.Errorf("access token principal = %+v; want the citizen at loa2 for portal", p)
	}
	if tok.IDToken == "" || tok.RefreshToken == "" {
		t.Errorf("token response lacks an ID or refresh token: %s", body)
	}
	// The code works once.
	st, _, body = b.do("POST", "/oauth2/token", exchange)
	if st != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_grant"`) {
		t.Errorf("second exchange = %d %s; want invalid_grant", st, body)
	}
	// userinfo by scope: profile and phone, never the national ID.
	claims, err := e.svc.userInfo(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != citizenID || claims["family_name"] != "Haddad" || claims["phone_number"] != phoneOf("40000001") ||
		claims[ClaimProofingLevel] != ProofingSelf {
		t.Errorf("userinfo = %v", claims)
	}
	for _, v := range claims {
		if s, _ := v.(string); s == nationalID("40000001") {
			t.Errorf("userinfo carries the national ID: %v", claims)
		}
	}

	// Single sign-on: a second request in this browser needs no password.
	authorize.Set("state", "st2")
	st, loc, _ = b.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil)
	if st != http.StatusFound || !strings.HasPrefix(loc, "http://127.0.0.1:5555/callback?") || mustQuery(t, loc, "code") == "" {
		t.Fatalf("second authorize = %d %q; want a code at once", st, loc)
	}
	// prompt=login asks for the password again.
	authorize.Set("prompt", "login")
	if st, loc, _ = b.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil); !strings.Contains(loc, "/oauth2/login?ar=") {
		t.Errorf("prompt=login = %d %q; want the sign-in page", st, loc)
	}
	// A redirect URI that is not registered gets an error page, no redirect.
	authorize.Set("redirect_uri", "http://127.0.0.1:5555/elsewhere")
	if st, loc, body = b.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil); st != http.StatusBadRequest || loc != "" || !strings.Contains(body, `dir="rtl"`) {
		t.Errorf("bad redirect_uri = %d %q; want an error page", st, loc)
	}
	// prompt=none without a session: login_required at the redirect URI.
	fresh := newOIDCBrowser(t, e)
	authorize.Set("redirect_uri", "http://127.0.0.1:5555/callback")
	authorize.Set("prompt", "none")
	st, loc, _ = fresh.do("GET", "/oauth2/authorize?"+authorize.Encode(), nil)
	if st != http.StatusFound || mustQuery(t, loc, "error") != "login_required" {
		t.Errorf("prompt=none = %d %q; want login_required", st, loc)
	}
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}

// oidcFixture is a citizen, a public loopback client and a browser.
type oidcFixture struct {
	e        *testEnv
	b        *oidcBrowser
	citizen  string
	verifier string
	query    url.Values
}

func newOIDCFixture(t *testing.T, e *testEnv, prefix string) *oidcFixture {
	t.Helper()
	citizenID, _ := e.citizen(t, prefix)
	must(t, e.svc.EnsureClient(context.Background(), ClientSpec{ID: "portal", Name: "Portal", Scopes: []string{ScopeProfile, ScopePhone, ScopeEmail}, CodeFlow: CodeFlow{
		Public: true, Loopback: true, MaxACR: ACRStepUp, RedirectURIs: []string{"http://127.0.0.1/callback"},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1/callback/bye"},
	}}), "EnsureClient")
	verifier, challenge := pkcePair()
	return &oidcFixture{e: e, b: newOIDCBrowser(t, e), citizen: citizenID, verifier: verifier, query: url.Values{
		"client_id": {"portal"}, "redirect_uri": {"http://127.0.0.1:5555/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}}
}

// signIn runs a loa1 authorization with the password and returns the
// sign-in answer (status, Location).
func (f *oidcFixture) signIn(t *testing.T, nid, password string) (int, string, string) {
	t.Helper()
	st, loc, body := f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil)
	if st != http.StatusFound {
		t.Fatalf("authorize = %d %s", st, body)
	}
	if strings.HasPrefix(loc, "http://127.0.0.1:5555/") {
		return st, loc, ""
	}
	_, _, body = f.b.do("GET", loc, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-in form:\n%s", body)
	}
	return f.b.do("POST", "/oauth2/login", url.Values{"ar": {mustQuery(t, loc, "ar")}, "csrf": {m[1]}, "national_id": {nid}, "password": {password}})
}

// code signs in and returns the authorization code.
func (f *oidcFixture) code(t *testing.T, nid string) string {
	t.Helper()
	_, loc, body := f.signIn(t, nid, testPassword)
	c := mustQuery(t, loc, "code")
	if c == "" {
		t.Fatalf("no code: %q %s", loc, body)
	}
	return c
}

func (f *oidcFixture) exchange(code, verifier string) (int, string) {
	st, _, body := f.b.do("POST", "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:5555/callback"}, "client_id": {"portal"}, "code_verifier": {verifier}})
	return st, body
}

// TestAuthorizationCodeIsSingleUse: of 16 concurrent exchanges of one
// code exactly one wins, on both engines; a later use also revokes what
// the first one issued (RFC 6749 section 4.1.2); an expired code fails.
func TestAuthorizationCodeIsSingleUse(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		f := newOIDCFixture(t, e, "40000002")
		code := f.code(t, nationalID("40000002"))
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []string
		)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, body := f.exchange(code, f.verifier); st == http.StatusOK {
					mu.Lock()
					wins = append(wins, body)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("%d of 16 concurrent exchanges won; want exactly 1", len(wins))
		}
		var tok struct {
			RefreshToken string `json:"refresh_token"`
		}
		must(t, json.Unmarshal([]byte(wins[0]), &tok))
		// The code came back again: the tokens of its first use are revoked.
		if _, err := e.svc.Refresh(context.Background(), tok.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("refresh after the code was reused = %v; want ErrInvalidGrant", err)
		}
		// A code is good for 60 seconds.
		code = f.code(t, nationalID("40000002"))
		e.clock.Advance(61 * time.Second)
		if st, body := f.exchange(code, f.verifier); st != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Errorf("expired code = %d %s; want invalid_grant", st, body)
		}
	})
}

// TestSignInRefusals: wrong password, lockout page, CSRF, English, the
// per-source limit of authorization requests, logout and revocation.
func TestSignInRefusals(t *testing.T) {
	e := sqliteEnv(t, func(c *Config) { c.LoginMaxFailures = 2; c.LoginDelay = 0; c.AuthRequestRate = 12 })
	f := newOIDCFixture(t, e, "40000003")
	nid := nationalID("40000003")
	st, _, body := f.signIn(t, nid, "wrong-password-123")
	if st != http.StatusUnauthorized || !strings.Contains(body, "غير صحيحة") || !strings.Contains(body, `name="password"`) {
		t.Errorf("wrong password = %d:\n%s", st, body)
	}
	st, _, body = f.signIn(t, nid, "wrong-password-123")
	if st != http.StatusTooManyRequests || !strings.Contains(body, "دقيقة") {
		t.Errorf("locked = %d:\n%s; want the lockout page", st, body)
	}
	e.clock.Advance(e.svc.cfg.LoginLockout + time.Second)

	// English by ui_locales.
	f.query.Set("ui_locales", "en")
	_, loc, _ := f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil)
	if _, _, body = f.b.do("GET", loc, nil); !strings.Contains(body, `<html lang="en" dir="ltr">`) || !strings.Contains(body, "National ID number") {
		t.Errorf("ui_locales=en page:\n%s", body)
	}
	f.query.Del("ui_locales")
	// The form of another browser (no binding cookie) is refused.
	m := csrfField.FindStringSubmatch(body)
	other := newOIDCBrowser(t, e)
	if st, _, _ := other.do("POST", "/oauth2/login", url.Values{"ar": {mustQuery(t, loc, "ar")}, "csrf": {m[1]}, "national_id": {nid}, "password": {testPassword}}); st != http.StatusBadRequest {
		t.Errorf("sign-in from another browser = %d; want 400", st)
	}

	// Signed in; then RP-initiated logout ends the session everywhere.
	code := f.code(t, nid)
	st, body = f.exchange(code, f.verifier)
	var tok struct {
		AccessToken, RefreshToken, IDToken string
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil || st != 200 {
		t.Fatalf("exchange = %d %s", st, body)
	}
	tok.AccessToken, _ = raw["access_token"].(string)
	tok.RefreshToken, _ = raw["refresh_token"].(string)
	tok.IDToken, _ = raw["id_token"].(string)
	// Revocation (RFC 7009) of the refresh token.
	if st, _, body := f.b.do("POST", "/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"portal"}}); st != http.StatusOK {
		t.Errorf("revoke = %d %s", st, body)
	}
	if _, err := e.svc.Refresh(context.Background(), tok.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("refresh after revocation = %v; want ErrInvalidGrant", err)
	}
	// The grant ends, the citizen's session does not: no session_revoked
	// for the gateway, and the access token still reads userinfo.
	if n := len(sessionRevocations(t, e.db)); n != 0 {
		t.Errorf("revocation announced %d session ends; want 0 (only the grant ends)", n)
	}
	if _, err := e.svc.userInfo(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("userinfo after revoking the refresh token = %v; want the session alive", err)
	}
	st, loc, _ = f.b.do("GET", "/oauth2/logout?"+url.Values{"id_token_hint": {tok.IDToken}, "post_logout_redirect_uri": {"http://127.0.0.1:5555/callback/bye"},
		"state": {"bye"}}.Encode(), nil)
	if st != http.StatusFound || loc != "http://127.0.0.1:5555/callback/bye?state=bye" {
		t.Errorf("logout = %d %q; want the registered post-logout URI with the state", st, loc)
	}
	if _, err := e.svc.userInfo(context.Background(), tok.AccessToken); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("userinfo after logout = %v; want ErrSessionEnded", err)
	}
	if _, loc, _ = f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil); !strings.Contains(loc, "/oauth2/login?ar=") {
		t.Errorf("authorize after logout = %q; want the sign-in page", loc)
	}
	// An unregistered post-logout URI is not followed.
	if _, loc, _ = f.b.do("GET", "/oauth2/logout?post_logout_redirect_uri="+url.QueryEscape("https://evil.example/"), nil); !strings.HasSuffix(loc, "/oauth2/logged-out") {
		t.Errorf("logout to an unregistered URI = %q; want the signed-out page", loc)
	}

	// A stranger cannot start authorization requests without end.
	for i := 0; ; i++ {
		st, loc, _ := f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil)
		if mustQuery(t, loc, "error") == "access_denied" {
			break
		}
		if st != http.StatusFound || i > 20 {
			t.Fatalf("request %d = %d %q; want refusals after auth-requests-per-minute", i, st, loc)
		}
	}
}

// TestClaimsScopesAreRegistered: a code-flow client gets only the claims
// scopes (profile, phone, email) it is registered with, openid always;
// those scopes never reach a client_credentials token.
func TestClaimsScopesAreRegistered(t *testing.T) {
	narrow := Client{ID: "narrow", Scopes: []string{ScopeProfile, "templates:read"}}
	for _, tc := range []struct {
		asked, want []string
	}{
		{[]string{"openid", "profile", "phone", "email"}, []string{"openid", "profile"}},
		{[]string{"phone", "openid", "openid"}, []string{"openid"}},
		{[]string{"openid", "templates:read", "made-up"}, []string{"openid"}},
	} {
		if got := grantableScopes(narrow, tc.asked); !slices.Equal(got, tc.want) {
			t.Errorf("grantableScopes(%v) = %v; want %v", tc.asked, got, tc.want)
		}
	}
	spec := ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Scopes: []string{ScopePhone, "templates:read"}}
	if err := spec.validate(); err != nil {
		t.Errorf("a client registered with phone: %v; want valid", err)
	}
	spec.Scopes = []string{"openid-ish"}
	if err := spec.validate(); err == nil {
		t.Error("a client registered with an unknown scope was accepted")
	}
	e := newEnv(t, storetest.SQLite(t), nil)
	must(t, e.svc.EnsureClient(context.Background(), ClientSpec{ID: "both", Name: "Both", Secret: "0123456789abcdef0123",
		Scopes: []string{ScopeProfile, "templates:read"}}), "EnsureClient")
	c, err := e.svc.Client(context.Background(), "both")
	must(t, err, "Client")
	tok, err := e.svc.clientCredentials(context.Background(), c, nil)
	must(t, err, "clientCredentials")
	if tok.Scope != "templates:read" {
		t.Errorf("client token scope = %q; want only its API scope templates:read", tok.Scope)
	}
	if _, err := e.svc.clientCredentials(context.Background(), c, []string{ScopeProfile}); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("client_credentials asking profile = %v; want ErrInvalidScope", err)
	}
}
