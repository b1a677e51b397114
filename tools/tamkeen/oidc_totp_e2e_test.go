package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// rfc6238 is the 6-digit TOTP code of a base32 secret at t (SHA-1, 30 s),
// written from RFC 6238 here so that the provider's library is not
// checking itself.
func rfc6238(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// TestOIDCClaimsAndTOTPStepUpEndToEnd runs issue 14's last two gaps
// through `tamkeen dev` with x/oauth2 and go-oidc: discovery says
// claims_parameter_supported; an essential acr of loa2 in claims (no
// acr_values) leads to the SMS step-up and an ID token at loa2; malformed
// claims is invalid_request at the callback; once the citizen has enrolled
// an authenticator app (with that loa2 token), the step-up page asks for
// the app's code, offers SMS instead, and the ID token says amr pwd otp.
func TestOIDCClaimsAndTOTPStepUpEndToEnd(t *testing.T) {
	clock := clocktest.New(time.Now().UTC())
	base, logs := startDevWithClock(t, clock, nil)
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 10 * time.Second})

	const phone, password = "+970599765401", "zaytoun-tree-1948"
	id := nationalID("41234501")
	seen := map[string]bool{}
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	var reg struct {
		CitizenID         string `json:"citizen_id"`
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
		} `json:"phone_verification"`
	}
	if resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": phone, "password": password, "given_name": "Layla", "family_name": "Haddad",
	}).do(&reg); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify", "",
		map[string]string{"code": latestCode(t, base, phone, seen)}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("phone verification = %d %s", resp.StatusCode, raw)
	}

	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	var meta struct {
		ClaimsParameterSupported bool `json:"claims_parameter_supported"`
	}
	must(t, provider.Claims(&meta))
	if !meta.ClaimsParameterSupported {
		t.Error("discovery: claims_parameter_supported is not true")
	}
	const callback = "http://127.0.0.1:43124/callback"
	rp := oauth2.Config{ClientID: demo.PortalClientID, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID}}
	rp.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verify := provider.Verifier(&oidc.Config{ClientID: demo.PortalClientID, Now: clock.Now})

	// flow signs in with the password in a new browser and returns the
	// step-up page.
	flow := func(opts ...oauth2.AuthCodeOption) (*rpBrowser, page, string, string) {
		t.Helper()
		verifier, state := oauth2.GenerateVerifier(), randomString(t)
		b := newRPBrowser(t, base)
		signIn := b.follow("GET", rp.AuthCodeURL(state, append(opts, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("ui_locales", "en"))...), nil)
		form := formOf(t, signIn)
		form.Set("national_id", id)
		form.Set("password", password)
		return b, b.follow("POST", "/oauth2/login", form), verifier, state
	}
	// finish posts code on the step-up page and returns the verified ID
	// token's claims and the access token.
	finish := func(b *rpBrowser, p page, code, verifier, state string) (acr, amr string, access string) {
		t.Helper()
		form := formOf(t, p)
		form.Set("code", code)
		q := callbackParams(t, b.follow("POST", "/oauth2/login/code", form), callback)
		if q.Get("state") != state {
			t.Fatalf("callback state = %q; want %q", q.Get("state"), state)
		}
		tok, err := rp.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idToken, err := verify.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var c struct {
			ACR string   `json:"acr"`
			AMR []string `json:"amr"`
		}
		must(t, idToken.Claims(&c))
		return c.ACR, strings.Join(c.AMR, " "), tok.AccessToken
	}

	// An essential acr in claims, no acr_values: the SMS step-up.
	clock.Advance(61 * time.Second)
	b, p, verifier, state := flow(oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["loa2"]}}}`))
	if !strings.Contains(p.body, "We sent a 6-digit code by SMS") {
		t.Fatalf("claims with an essential loa2: want the SMS code page; got %d:\n%s", p.status, p.body)
	}
	acr, amr, access := finish(b, p, latestCode(t, base, phone, seen), verifier, state)
	if acr != "loa2" || amr != "pwd sms" {
		t.Errorf("ID token after claims + SMS: acr %q amr %q; want loa2, pwd sms", acr, amr)
	}
	// Malformed claims: invalid_request at the registered callback.
	q := callbackParams(t, newRPBrowser(t, base).follow("GET", rp.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("claims", `{"id_token":`)), nil), callback)
	if q.Get("error") != "invalid_request" || q.Get("state") != state {
		t.Errorf("malformed claims = %v; want error=invalid_request with the state", q)
	}

	// The loa2 token enrols an authenticator app.
	var enr struct {
		Secret string `json:"secret"`
	}
	if resp, raw := call("POST", "/v1/auth/totp:enroll", access, map[string]string{}).do(&enr); resp.StatusCode != http.StatusOK || enr.Secret == "" {
		t.Fatalf("enrol TOTP = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/auth/totp:confirm", access, map[string]string{"code": rfc6238(t, enr.Secret, clock.Now())}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm TOTP = %d %s", resp.StatusCode, raw)
	}
	clock.Advance(30 * time.Second) // the confirm's step is used

	// Now the step-up asks for the app (no SMS), with SMS offered instead.
	b, p, verifier, state = flow(oauth2.SetAuthURLParam("acr_values", "loa2"))
	if !strings.Contains(p.body, "authenticator app shows") || !strings.Contains(p.body, `name="method" value="sms"`) {
		t.Fatalf("want the authenticator page with the SMS alternative; got %d:\n%s", p.status, p.body)
	}
	form := formOf(t, p)
	form.Set("code", "12345x")
	if wrong := b.visit("POST", "/oauth2/login/code", form); wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, "The code is incorrect") {
		t.Errorf("wrong app code = %d; want 401 with the error:\n%s", wrong.status, wrong.body)
	}
	totpCode := rfc6238(t, enr.Secret, clock.Now())
	if acr, amr, _ = finish(b, p, totpCode, verifier, state); acr != "loa2" || amr != "pwd otp" {
		t.Errorf("ID token after the app's code: acr %q amr %q; want loa2, pwd otp", acr, amr)
	}

	for _, secret := range []string{id, password, enr.Secret, totpCode} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs contain a secret or PII value (%.6s…)", secret)
		}
	}
}
