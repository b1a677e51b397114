package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// startDevWithClock runs `tamkeen dev` (runDevWith) in this process on the
// test's clock and returns its URL.
func startDevWithClock(t *testing.T, clock *clocktest.Clock, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	return startDevIn(t, t.TempDir(), clock, env)
}

// appSecret is the demo-ministry client's secret in the tests that log in
// through POST /v1/auth/login. Dev grants that client every scope, so it
// holds auth:password-login and stands in for a first-party app (issue
// 14 item 7: the route needs a client token with that scope).
const appSecret = "first-party-app-secret-for-tests"

// appEnv is the dev environment that sets the demo client's secret to
// appSecret.
var appEnv = map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": appSecret}

// startDevIn is startDevWithClock on a given data dir.
func startDevIn(t *testing.T, dataDir string, clock *clocktest.Clock, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	return startDevHooks(t, dataDir, devHooks{now: clock.Now}, env)
}

// startDevHooks runs runDevWith in this process and returns its URL.
func startDevHooks(t *testing.T, dataDir string, hooks devHooks, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	go func() {
		done <- runDevWith(ctx, hooks, []string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"}, lookup, pw, logs)
		pw.Close()
	}()
	var base string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Tamkeen is running at "); ok {
			base = u
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		cancel()
		t.Fatalf("dev did not start: %v\nlogs:\n%s", <-done, logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runDev returned %v after cancel; want nil", err)
		}
	})
	return base, logs
}

// apiCall is one JSON request to the gateway.
type apiCall struct {
	t      *testing.T
	base   string
	method string
	path   string
	token  string
	body   any
}

// do sends the call and decodes the JSON answer into out (when not nil).
func (c apiCall) do(out any) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, c.base+c.path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: answer is not JSON: %v: %s", c.method, c.path, err, raw)
		}
	}
	return resp, raw
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// latestCode polls the dev inbox for the newest SMS to phone that is not
// one of seen and returns the 6-digit code in it.
func latestCode(t *testing.T, base, phone string, seen map[string]bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/dev/inbox?to=" + url.QueryEscape(phone))
		if err != nil {
			t.Fatal(err)
		}
		var inbox struct {
			Messages []struct {
				ID   string `json:"id"`
				Body string `json:"body"`
			} `json:"messages"`
		}
		err = json.NewDecoder(resp.Body).Decode(&inbox)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range inbox.Messages { // newest first
			if seen[m.ID] {
				continue
			}
			if c := sixDigits.FindStringSubmatch(m.Body); c != nil {
				seen[m.ID] = true
				return c[1]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no new SMS with a code reached the dev inbox for %s", phone)
	return ""
}

// nationalID completes 8 digits with the check digit (Luhn, as the
// Palestinian ID number uses it).
func nationalID(first8 string) string { return auth.CompleteNationalID(first8) }

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ACR          string `json:"acr"`
	ExpiresIn    int    `json:"expires_in"`
}

// TestCitizenStepUpEndToEnd is issue 3's journey through the gateway:
// register, verify the phone with the SMS code from the dev inbox, log in
// at loa1, meet the RFC 9470 challenge on a loa2 route, step up by SMS, pass,
// and be asked again once max_age has gone by.
func TestCitizenStepUpEndToEnd(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	base, logs := startDevWithClock(t, clock, appEnv)
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	const phone = "+970599123456"
	id := nationalID("40123456")
	seen := map[string]bool{}

	var reg struct {
		CitizenID         string `json:"citizen_id"`
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
		} `json:"phone_verification"`
	}
	resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": phone, "password": "zaytoun-tree-1948",
		"given_name": "ليلى", "family_name": "Haddad",
	}).do(&reg)
	if resp.StatusCode != http.StatusCreated || reg.CitizenID == "" || reg.PhoneVerification.ChallengeID == "" {
		t.Fatalf("register = %d %s; want 201 with a citizen id and a phone challenge", resp.StatusCode, raw)
	}
	// A taken national ID is answered like a new one: registration is no
	// oracle of who is registered (TestSessionsEndThroughGateway).
	if resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": "+970599000000", "password": "another-good-pass-77",
		"given_name": "Omar", "family_name": "Haddad",
	}).do(nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("duplicate national id = %d %s; want 201 like a new registration", resp.StatusCode, raw)
	}

	code := latestCode(t, base, phone, seen)
	var verified struct {
		PhoneVerified bool `json:"phone_verified"`
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify", "",
		map[string]string{"code": code}).do(&verified); resp.StatusCode != 200 || !verified.PhoneVerified {
		t.Fatalf("phone verification = %d %s; want 200 phone_verified", resp.StatusCode, raw)
	}

	var login tokenResponse
	if resp, raw := call("POST", "/v1/auth/login", clientToken(t, base, appSecret), map[string]string{
		"national_id": id, "password": "zaytoun-tree-1948",
	}).do(&login); resp.StatusCode != 200 || login.ACR != "loa1" || login.AccessToken == "" {
		t.Fatalf("login = %d %s; want 200 with acr loa1", resp.StatusCode, raw)
	}

	const wantChallenge = `error="insufficient_user_authentication"`
	resp, raw = call("POST", "/v1/auth/totp:enroll", login.AccessToken, map[string]string{}).do(nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("loa2 route with a loa1 token = %d %s; want 401", resp.StatusCode, raw)
	}
	www := resp.Header.Get("WWW-Authenticate")
	for _, want := range []string{"Bearer", wantChallenge, `acr_values="loa2"`, "max_age=300"} {
		if !strings.Contains(www, want) {
			t.Errorf("WWW-Authenticate = %q; want it to contain %s (RFC 9470)", www, want)
		}
	}

	// A minute later (the resend cool-down since the registration SMS has
	// passed), the citizen steps up by SMS.
	clock.Advance(61 * time.Second)
	var ch struct {
		ChallengeID string `json:"challenge_id"`
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges", login.AccessToken, map[string]string{"method": "sms"}).do(&ch); resp.StatusCode >= 300 || ch.ChallengeID == "" {
		t.Fatalf("SMS step-up challenge = %d %s", resp.StatusCode, raw)
	}
	code = latestCode(t, base, phone, seen)
	var stepped tokenResponse
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+ch.ChallengeID+":verify", login.AccessToken,
		map[string]string{"code": code}).do(&stepped); resp.StatusCode != 200 || stepped.ACR != "loa2" {
		t.Fatalf("step-up verify = %d %s; want 200 with acr loa2", resp.StatusCode, raw)
	}

	var enrol struct {
		Secret     string `json:"secret"`
		OtpauthURI string `json:"otpauth_uri"`
	}
	if resp, raw := call("POST", "/v1/auth/totp:enroll", stepped.AccessToken, map[string]string{}).do(&enrol); resp.StatusCode != 200 || enrol.Secret == "" {
		t.Fatalf("loa2 route with a fresh loa2 token = %d %s; want 200 with a TOTP secret", resp.StatusCode, raw)
	}

	// max_age is 300 s: five minutes and a second later, the same token is
	// too old for the route and the citizen is asked again.
	clock.Advance(301 * time.Second)
	resp, raw = call("POST", "/v1/auth/totp:enroll", stepped.AccessToken, map[string]string{}).do(nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), wantChallenge) {
		t.Fatalf("loa2 route after max_age = %d %q %s; want 401 with the RFC 9470 challenge",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"), raw)
	}

	// Nothing secret reached the logs.
	for _, secret := range []string{id, phone, "zaytoun-tree-1948", login.AccessToken, stepped.RefreshToken} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs contain a secret or PII value (%.12s…)", secret)
		}
	}
}

// TestClientCredentialsThroughGateway: a ministry app gets a token at
// /oauth2/token (form-encoded, RFC 6749), a wrong secret is invalid_client,
// and a token without a route's scope is refused with insufficient_scope.
func TestClientCredentialsThroughGateway(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := func(clientSecret, scope string) (*http.Response, map[string]any) {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {clientSecret}}
		if scope != "" {
			form.Set("scope", scope)
		}
		resp, err := http.PostForm(base+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := token("not-the-secret-at-all", "")
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret = %d %v; want 401 invalid_client", resp.StatusCode, body)
	}
	resp, body = token(secret, "root:everything")
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("unknown scope = %d %v; want 400 invalid_scope", resp.StatusCode, body)
	}

	resp, body = token(secret, "notifications:send")
	access, _ := body["access_token"].(string)
	if resp.StatusCode != 200 || access == "" || body["scope"] != "notifications:send" {
		t.Fatalf("token with one scope = %d %v", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token response Cache-Control = %q; want no-store", cc)
	}
	r, raw := apiCall{t: t, base: base, method: "GET", path: "/v1/ledger/trial-balance", token: access}.do(nil)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("route needing ledger:read with a notifications:send token = %d %q %s; want 403 insufficient_scope",
			r.StatusCode, r.Header.Get("WWW-Authenticate"), raw)
	}

	_, body = token(secret, "")
	all, _ := body["access_token"].(string)
	r, raw = apiCall{t: t, base: base, method: "GET", path: "/v1/ledger/trial-balance", token: all}.do(nil)
	if r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusUnauthorized {
		t.Errorf("route needing ledger:read with an all-scopes token = %d %s; want it let through", r.StatusCode, raw)
	}
}

// TestLoginLockoutThroughGateway: repeated wrong passwords end in 429 with
// Retry-After, and an unknown national ID is answered the same way as a
// wrong password.
func TestLoginLockoutThroughGateway(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevWithClock(t, clock, appEnv)
	id := nationalID("40765432")
	if resp, raw := (apiCall{t: t, base: base, method: "POST", path: "/v1/citizens", body: map[string]string{
		"national_id": id, "phone_number": "+970568765432", "password": "olive-harvest-2026",
		"given_name": "Sami", "family_name": "Nasser",
	}}).do(nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	// The app's token is minted for each login: the test moves the clock
	// past its 10 minutes.
	login := func(nid, password string) (*http.Response, []byte) {
		return apiCall{t: t, base: base, method: "POST", path: "/v1/auth/login", token: clientToken(t, base, appSecret),
			body: map[string]string{"national_id": nid, "password": password}}.do(nil)
	}
	wrong, wrongRaw := login(id, "not-my-password")
	unknown, unknownRaw := login(nationalID("49999999"), "not-my-password")
	if wrong.StatusCode != unknown.StatusCode || wrong.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password = %d, unknown id = %d; want both 401, alike", wrong.StatusCode, unknown.StatusCode)
	}
	detail := func(raw []byte) any {
		var p map[string]any
		_ = json.Unmarshal(raw, &p)
		return p["detail"]
	}
	if detail(wrongRaw) != detail(unknownRaw) {
		t.Errorf("details differ: %v vs %v; the answer must not tell whether the id exists", detail(wrongRaw), detail(unknownRaw))
	}

	var locked *http.Response
	for i := 0; i < 20 && locked == nil; i++ {
		clock.Advance(time.Minute) // past each growing delay, so the failures count
		if resp, _ := login(id, "still-not-my-password"); resp.StatusCode == http.StatusTooManyRequests {
			locked = resp
		}
	}
	if locked == nil {
		t.Fatal("20 wrong passwords never locked the account (no 429)")
	}
	if ra := locked.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 Retry-After = %q; want the lockout's remaining seconds", ra)
	}
	if resp, _ := login(id, "olive-harvest-2026"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while locked = %d; want 429", resp.StatusCode)
	}
	clock.Advance(16 * time.Minute)
	if resp, raw := login(id, "olive-harvest-2026"); resp.StatusCode != http.StatusOK {
		t.Errorf("right password after the lockout = %d %s; want 200", resp.StatusCode, raw)
	}
}
