package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// waitStatus polls until the call answers want, for at most 5 s, and
// returns how long it took.
func waitStatus(t *testing.T, c apiCall, want int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp, raw := c.do(nil)
		if resp.StatusCode == want {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s %s still answers %d %s after 5 s; want %d", c.method, c.path, resp.StatusCode, raw, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSessionsEndThroughGateway is issue 12 part 5 through the real
// gateway, the real auth service and embedded NATS: logout and
// refresh-token reuse get the session's access tokens refused within
// 5 s (and step-up with them fails); five wrong passwords from one
// source do not lock a login from another; the unlock by SMS works and
// looks the same for unknown IDs; registering a taken ID is answered
// like a new one and tells the holder by SMS; /oauth2/token throttles a
// client id's failures.
func TestSessionsEndThroughGateway(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevWithClock(t, clock, appEnv)
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	const phone, password = "+970599345678", "sumud-olive-2026"
	id := nationalID("41234567")
	seen := map[string]bool{}
	type registered struct {
		CitizenID         string `json:"citizen_id"`
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
			ExpiresIn   int    `json:"expires_in"`
		} `json:"phone_verification"`
	}
	var reg registered
	if resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": phone, "password": password, "given_name": "Rana", "family_name": "Khalil",
	}).do(&reg); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	code := latestCode(t, base, phone, seen)
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify", "",
		map[string]string{"code": code}).do(nil); resp.StatusCode != 200 {
		t.Fatalf("phone verification = %d %s", resp.StatusCode, raw)
	}
	// login logs in from a loopback source address of its own (the
	// gateway trusts no X-Forwarded-For: the source is the peer), as the
	// first-party app with a token minted for the call (the test moves
	// the clock past a token's 10 minutes).
	login := func(source, pw string) (*http.Response, tokenResponse) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"national_id": id, "password": pw})
		req, _ := http.NewRequest("POST", base+"/v1/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+clientToken(t, base, appSecret))
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
		client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr tokenResponse
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &tr)
		return resp, tr
	}

	t.Run("logout", func(t *testing.T) {
		resp, pair := login("127.0.0.1", password)
		if resp.StatusCode != 200 {
			t.Fatalf("login = %d", resp.StatusCode)
		}
		list := call("GET", "/v1/signing/credentials", pair.AccessToken, nil)
		if resp, raw := list.do(nil); resp.StatusCode != 200 {
			t.Fatalf("citizen route before logout = %d %s; want 200", resp.StatusCode, raw)
		}
		if resp, raw := call("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": pair.RefreshToken}).do(nil); resp.StatusCode != 200 {
			t.Fatalf("logout = %d %s", resp.StatusCode, raw)
		}
		took := waitStatus(t, list, http.StatusUnauthorized)
		t.Logf("logged-out session's token refused after %v", took)
		resp, raw := call("POST", "/v1/auth/otp/challenges", pair.AccessToken, map[string]string{"method": "sms"}).do(nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("step-up with a logged-out token = %d %s; want 401 invalid_token", resp.StatusCode, raw)
		}
	})

	t.Run("refresh token reuse", func(t *testing.T) {
		_, pair := login("127.0.0.1", password)
		var rotated tokenResponse
		if resp, raw := call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}).do(&rotated); resp.StatusCode != 200 {
			t.Fatalf("refresh = %d %s", resp.StatusCode, raw)
		}
		list := call("GET", "/v1/signing/credentials", rotated.AccessToken, nil)
		if resp, raw := list.do(nil); resp.StatusCode != 200 {
			t.Fatalf("citizen route = %d %s; want 200", resp.StatusCode, raw)
		}
		if resp, _ := call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": pair.RefreshToken}).do(nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reused refresh = %d; want 401", resp.StatusCode)
		}
		took := waitStatus(t, list, http.StatusUnauthorized)
		t.Logf("reuse-revoked session's token refused after %v", took)
		if resp, raw := call("POST", "/v1/auth/otp/challenges", rotated.AccessToken, map[string]string{"method": "sms"}).do(nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("step-up with a reuse-revoked token = %d %s; want 401", resp.StatusCode, raw)
		}
		// A fresh login is unaffected.
		_, fresh := login("127.0.0.1", password)
		if resp, raw := call("GET", "/v1/signing/credentials", fresh.AccessToken, nil).do(nil); resp.StatusCode != 200 {
			t.Errorf("new session's token = %d %s; want 200", resp.StatusCode, raw)
		}
	})

	t.Run("lockout per source and unlock by SMS", func(t *testing.T) {
		const a, b = "127.0.0.2", "127.0.0.3"
		var status []int
		for i := 0; i < 5; i++ {
			clock.Advance(time.Minute) // past each growing delay
			resp, _ := login(a, "not-my-password")
			status = append(status, resp.StatusCode)
		}
		if status[4] != http.StatusTooManyRequests {
			t.Fatalf("five wrong passwords from A = %v; want the fifth to lock (429)", status)
		}
		if resp, _ := login(a, password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("right password from A = %d; want 429", resp.StatusCode)
		}
		if resp, _ := login(b, password); resp.StatusCode != 200 {
			t.Errorf("right password from B = %d; want 200: a stranger at A must not lock the citizen out", resp.StatusCode)
		}

		clock.Advance(2 * time.Minute) // past the SMS cool-down
		type challenge struct {
			ChallengeID string `json:"challenge_id"`
			ExpiresIn   int    `json:"expires_in"`
		}
		var known, unknown challenge
		r1, raw1 := call("POST", "/v1/auth/unlock", "", map[string]string{"national_id": id}).do(&known)
		r2, raw2 := call("POST", "/v1/auth/unlock", "", map[string]string{"national_id": nationalID("49876543")}).do(&unknown)
		if r1.StatusCode != 200 || r1.StatusCode != r2.StatusCode || len(known.ChallengeID) != len(unknown.ChallengeID) ||
			known.ExpiresIn != unknown.ExpiresIn || len(raw1) != len(raw2) {
			t.Fatalf("unlock registered = %d %s; unknown = %d %s; want the same answer", r1.StatusCode, raw1, r2.StatusCode, raw2)
		}
		code := latestCode(t, base, phone, seen)
		w1, wraw1 := call("POST", "/v1/auth/unlock/"+known.ChallengeID+":verify", "", map[string]string{"code": "000000"}).do(nil)
		w2, wraw2 := call("POST", "/v1/auth/unlock/"+unknown.ChallengeID+":verify", "", map[string]string{"code": "000000"}).do(nil)
		if code == "000000" || w1.StatusCode != http.StatusBadRequest || w1.StatusCode != w2.StatusCode || detailOf(wraw1) != detailOf(wraw2) {
			t.Fatalf("wrong code = %d %s; unknown ID's challenge = %d %s; want the same 400", w1.StatusCode, wraw1, w2.StatusCode, wraw2)
		}
		if resp, raw := call("POST", "/v1/auth/unlock/"+known.ChallengeID+":verify", "", map[string]string{"code": code}).do(nil); resp.StatusCode != 200 {
			t.Fatalf("unlock = %d %s; want 200", resp.StatusCode, raw)
		}
		if resp, _ := login(a, password); resp.StatusCode != 200 {
			t.Errorf("right password from A after the unlock = %d; want 200", resp.StatusCode)
		}
	})

	t.Run("registration with a taken ID", func(t *testing.T) {
		var fresh, taken registered
		r1, raw1 := call("POST", "/v1/citizens", "", map[string]string{
			"national_id": nationalID("42345678"), "phone_number": "+970599111222", "password": "another-good-pass-77",
			"given_name": "Omar", "family_name": "Haddad",
		}).do(&fresh)
		r2, raw2 := call("POST", "/v1/citizens", "", map[string]string{
			"national_id": id, "phone_number": "+970599111333", "password": "another-good-pass-77",
			"given_name": "Omar", "family_name": "Haddad",
		}).do(&taken)
		if r1.StatusCode != http.StatusCreated || r2.StatusCode != r1.StatusCode || len(raw1) != len(raw2) ||
			len(fresh.PhoneVerification.ChallengeID) != len(taken.PhoneVerification.ChallengeID) ||
			fresh.PhoneVerification.ExpiresIn != taken.PhoneVerification.ExpiresIn {
			t.Fatalf("new = %d %s; taken = %d %s; want the same status and shape", r1.StatusCode, raw1, r2.StatusCode, raw2)
		}
		// The holder hears of it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(base + "/dev/inbox?to=" + url.QueryEscape(phone))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "التسجيل") || strings.Contains(string(body), "register") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no registration-attempt SMS reached the holder: %s", body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("token endpoint throttles failures per client id", func(t *testing.T) {
		form := func(secret string) (*http.Response, []byte) {
			resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
				"client_id": {demo.ClientID}, "client_secret": {secret}})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return resp, raw
		}
		var last *http.Response
		var lastRaw []byte
		for i := 0; i < 10; i++ {
			last, lastRaw = form("wrong-wrong-wrong-wrong")
		}
		var body map[string]any
		_ = json.Unmarshal(lastRaw, &body)
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") != "60" || body["error"] != "temporarily_unavailable" {
			t.Fatalf("10th wrong secret = %d Retry-After %q %s; want 429, Retry-After 60, error temporarily_unavailable",
				last.StatusCode, last.Header.Get("Retry-After"), lastRaw)
		}
		clock.Advance(61 * time.Second)
		if resp, raw := form("wrong-wrong-wrong-wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after the minute = %d %s; want 401 again (the lock ends by itself)", resp.StatusCode, raw)
		}
	})
}

// detailOf is a problem's detail.
func detailOf(raw []byte) any {
	var p map[string]any
	_ = json.Unmarshal(raw, &p)
	return p["detail"]
}
