package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
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
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "portal", Name: "Portal", Organization: "Ministry of Health", CodeFlow: CodeFlow{
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
	if claims["sub"] != citizenID || claims["family_name"] != "Haddad" || claims["phone_number"] != phoneOf("40000001") {
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
