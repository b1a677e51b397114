package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// enrolTOTP enrols and confirms an authenticator app for the citizen of
// pair (after an SMS step-up) and returns its secret.
func (e *testEnv) enrolTOTP(t *testing.T, pair TokenPair) string {
	t.Helper()
	ctx := context.Background()
	loa2 := e.principal(t, e.stepUpSMS(t, pair).AccessToken)
	enr, err := e.svc.EnrollTotp(ctx, loa2)
	must(t, err, "EnrollTotp")
	_, err = e.svc.ConfirmTotp(ctx, loa2, generate(t, enr.Secret, e.clock.Now()))
	must(t, err, "ConfirmTotp")
	return enr.Secret
}

// stepUpPage signs in to a loa2 request and returns the step-up page's
// Location, request id, CSRF token and body.
func (f *oidcFixture) stepUpPage(t *testing.T, nid string) (loc, ar, csrf, body string) {
	t.Helper()
	st, loc, body := f.signIn(t, nid, testPassword)
	if st != http.StatusSeeOther || !strings.Contains(loc, "/oauth2/login/code?ar=") {
		t.Fatalf("sign-in = %d %q %s; want the step-up page", st, loc, body)
	}
	return loc, mustQuery(t, loc, "ar"), "", ""
}

// getCode reads the step-up page: its CSRF token and body.
func (f *oidcFixture) getCode(t *testing.T, loc string) (string, string) {
	t.Helper()
	st, _, body := f.b.do("GET", loc, nil)
	m := csrfField.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("step-up page = %d:\n%s", st, body)
	}
	return m[1], body
}

// idTokenClaims exchanges code and returns the ID token's claims.
func (f *oidcFixture) idTokenClaims(t *testing.T, code string) jwt.MapClaims {
	t.Helper()
	st, body := f.exchange(code, f.verifier)
	if st != http.StatusOK {
		t.Fatalf("exchange = %d %s", st, body)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	must(t, json.Unmarshal([]byte(body), &tok), "token response")
	claims, err := unverifiedClaims(tok.IDToken)
	must(t, err, "ID token")
	return claims
}

func amrOf(c jwt.MapClaims) string {
	v, _ := c["amr"].([]any)
	return strings.TrimSpace(strings.Trim(fmt.Sprint(v), "[]"))
}

// TestCodeFlowTOTPStepUp: a citizen with a confirmed authenticator app
// gets the app's page for a loa2 request (no SMS), a wrong code shows the
// error with the tries left, the right code gives acr loa2 and amr [pwd
// otp] in the ID token, a code used once is refused, and SMS remains the
// alternative (amr [pwd sms]).
func TestCodeFlowTOTPStepUp(t *testing.T) {
	e := sqliteEnv(t, nil)
	f := newOIDCFixture(t, e, "40000011")
	nid := nationalID("40000011")
	pair, err := e.svc.Login(context.Background(), LoginRequest{NationalID: nid, Password: testPassword})
	must(t, err, "Login")
	secret := e.enrolTOTP(t, pair)
	e.clock.Advance(e.svc.cfg.SMSResendCooldown + 30*time.Second) // past the confirm's TOTP step and the last SMS
	f.query.Set("acr_values", "loa2")
	f.query.Set("ui_locales", "en")

	loc, ar, _, _ := f.stepUpPage(t, nid)
	csrf, body := f.getCode(t, loc)
	if !strings.Contains(body, pageTexts["en"]["totp_prompt"]) || !strings.Contains(body, `name="method" value="sms"`) ||
		strings.Contains(body, pageTexts["en"]["resend"]) || strings.Contains(body, `pattern="[0-9]*"`) {
		t.Fatalf("step-up page of a TOTP citizen is not the app's page with SMS as the alternative:\n%s", body)
	}
	if n := e.pendingSMS(t); n != 0 {
		t.Errorf("%d SMS sent for a TOTP step-up; want 0", n)
	}

	now := e.clock.Now()
	right := generate(t, secret, now)
	wrong := "000000"
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		for wrong == generate(t, secret, now.Add(d)) {
			wrong = fmt.Sprintf("%06d", atoi(wrong)+1)
		}
	}
	st, _, body := f.b.do("POST", "/oauth2/login/code", url.Values{"ar": {ar}, "csrf": {csrf}, "code": {wrong}})
	if want := fmt.Sprintf(pageTexts["en"]["code_tries"], e.svc.cfg.OTPMaxAttempts-1); st != http.StatusUnauthorized || !strings.Contains(body, want) ||
		!strings.Contains(body, pageTexts["en"]["totp_prompt"]) {
		t.Fatalf("wrong TOTP code = %d; want 401 %q on the app's page:\n%s", st, want, body)
	}
	st, cb, body := f.b.do("POST", "/oauth2/login/code", url.Values{"ar": {ar}, "csrf": {csrf}, "code": {right}})
	if st != http.StatusSeeOther || !strings.HasPrefix(cb, "http://127.0.0.1:5555/callback?") {
		t.Fatalf("right TOTP code = %d %q %s; want the callback", st, cb, body)
	}
	claims := f.idTokenClaims(t, mustQuery(t, cb, "code"))
	if claims["acr"] != ACRStepUp || amrOf(claims) != "pwd otp" || claims["sub"] != f.citizen {
		t.Errorf("ID token after TOTP: acr %v amr %v; want loa2 [pwd otp]", claims["acr"], claims["amr"])
	}

	// The same code in a new request (password again) is refused: the
	// step was used.
	f.query.Set("prompt", "login")
	loc, ar, _, _ = f.stepUpPage(t, nid)
	csrf, _ = f.getCode(t, loc)
	st, _, body = f.b.do("POST", "/oauth2/login/code", url.Values{"ar": {ar}, "csrf": {csrf}, "code": {right}})
	if st != http.StatusUnauthorized || !strings.Contains(body, pageTexts["en"]["code_used"]) {
		t.Fatalf("replayed TOTP code = %d; want 401 %q:\n%s", st, pageTexts["en"]["code_used"], body)
	}

	// SMS instead: the switch sends a code; the SMS page offers the app back.
	st, next, body := f.b.do("POST", "/oauth2/login/resend?ar="+ar, url.Values{"ar": {ar}, "csrf": {csrf}, "method": {"sms"}})
	if st != http.StatusSeeOther || !strings.Contains(next, "/oauth2/login/code?ar=") {
		t.Fatalf("switch to SMS = %d %q %s", st, next, body)
	}
	sms := e.nextSMS(t).GetPersonalisation()["code"]
	csrf, body = f.getCode(t, next)
	if !strings.Contains(body, pageTexts["en"]["code_sent"]) || !strings.Contains(body, `name="method" value="totp"`) {
		t.Fatalf("SMS page of a TOTP citizen does not offer the app:\n%s", body)
	}
	st, cb, body = f.b.do("POST", "/oauth2/login/code", url.Values{"ar": {ar}, "csrf": {csrf}, "code": {sms}})
	if st != http.StatusSeeOther || !strings.HasPrefix(cb, "http://127.0.0.1:5555/callback?") {
		t.Fatalf("SMS code = %d %q %s; want the callback", st, cb, body)
	}
	claims = f.idTokenClaims(t, mustQuery(t, cb, "code"))
	if claims["acr"] != ACRStepUp || amrOf(claims) != "pwd sms" {
		t.Errorf("ID token after SMS: acr %v amr %v; want loa2 [pwd sms]", claims["acr"], claims["amr"])
	}

	// Switching to the app opens a new challenge, pageTOTPChallenges an
	// hour at most.
	loc, ar, _, _ = f.stepUpPage(t, nid)
	csrf, _ = f.getCode(t, loc)
	for i := 0; ; i++ {
		st, _, body = f.b.do("POST", "/oauth2/login/resend?ar="+ar, url.Values{"ar": {ar}, "csrf": {csrf}, "method": {"totp"}})
		if st != http.StatusSeeOther {
			break
		}
		if i > pageTOTPChallenges {
			t.Fatalf("%d switches to the app accepted; want at most %d challenges an hour", i, pageTOTPChallenges)
		}
	}
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Too many authenticator code requests") {
		t.Errorf("switch beyond the cap = %d; want 429:\n%s", st, body)
	}
}

// pendingSMS counts the SMS commands waiting in the outbox and on the
// OTP lane.
func (e *testEnv) pendingSMS(t *testing.T) int {
	t.Helper()
	var n int
	must(t, e.svc.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM otp_challenges WHERE method = 'sms' AND created_at_ms > $1`,
		ms(e.clock.Now().Add(-e.svc.cfg.SMSResendCooldown))).Scan(&n), "count SMS")
	return n
}

// TestAuthorizeClaimsParameter: an essential acr of loa2 in claims (under
// id_token or userinfo, values or value) asks for the step-up as
// acr_values=loa2 does; a voluntary one does not; malformed claims and
// an essential acr the client may not ask for are invalid_request at the
// client's redirect URI; discovery says claims_parameter_supported.
func TestAuthorizeClaimsParameter(t *testing.T) {
	e := sqliteEnv(t, nil)
	f := newOIDCFixture(t, e, "40000012")
	nid := nationalID("40000012")
	e.clock.Advance(e.svc.cfg.SMSResendCooldown)
	for _, tc := range []struct{ name, claims, want string }{
		{"id_token values", `{"id_token":{"acr":{"essential":true,"values":["loa2"]}}}`, "/oauth2/login/code?ar="},
		{"userinfo value", `{"userinfo":{"acr":{"essential":true,"value":"loa2"}}}`, "/oauth2/login/code?ar="},
		{"voluntary", `{"id_token":{"acr":{"values":["loa2"]},"email":null}}`, "http://127.0.0.1:5555/callback?"},
		{"loa1 or loa2", `{"id_token":{"acr":{"essential":true,"values":["loa1","loa2"]}}}`, "http://127.0.0.1:5555/callback?"},
	} {
		f.b = newOIDCBrowser(t, e) // a browser with no session each time
		t.Run(tc.name, func(t *testing.T) {
			f.query.Set("claims", tc.claims)
			st, loc, body := f.signIn(t, nid, testPassword)
			if st != http.StatusSeeOther || !strings.HasPrefix(strings.TrimPrefix(loc, f.b.base), tc.want) {
				t.Fatalf("sign-in with claims %s = %d %q %s; want %s", tc.claims, st, loc, body, tc.want)
			}
			if strings.Contains(loc, "/code?") {
				e.nextSMS(t)
				e.clock.Advance(e.svc.cfg.SMSResendCooldown)
			}
		})
	}

	// Errors go to the registered redirect URI with the state.
	refused := func(t *testing.T, claims string) {
		t.Helper()
		f.query.Set("claims", claims)
		st, loc, body := f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil)
		if st != http.StatusFound || !strings.HasPrefix(loc, "http://127.0.0.1:5555/callback?") ||
			mustQuery(t, loc, "error") != "invalid_request" || mustQuery(t, loc, "state") != "st" {
			t.Errorf("claims %s = %d %q %s; want invalid_request at the callback", claims, st, loc, body)
		}
	}
	for _, bad := range []string{`{`, `[]`, `"acr"`, `{"id_token":{"acr":{"essential":"yes"}}}`, `{"id_token":{"acr":{"essential":true,"values":["loa9"]}}}`} {
		refused(t, bad)
	}
	// A client whose highest level is loa1 may not ask for loa2 this way
	// either.
	must(t, e.svc.EnsureClient(context.Background(), ClientSpec{ID: "portal", Name: "Portal", Scopes: []string{ScopeProfile, ScopePhone, ScopeEmail}, CodeFlow: CodeFlow{
		Public: true, Loopback: true, MaxACR: ACRPassword, RedirectURIs: []string{"http://127.0.0.1/callback"},
	}}), "EnsureClient")
	f.query.Set("acr_values", "loa2")
	f.query.Del("claims")
	refused(t, "")
	f.query.Del("acr_values")
	refused(t, `{"userinfo":{"acr":{"essential":true,"value":"loa2"}}}`)

	doc, err := e.srv.GetOpenIdConfiguration(context.Background(), &authv1.GetOpenIdConfigurationRequest{})
	if err != nil || !doc.GetClaimsParameterSupported() {
		t.Errorf("discovery claims_parameter_supported = %v, %v; want true", doc.GetClaimsParameterSupported(), err)
	}
}
