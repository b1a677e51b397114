package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// TestDiscoveryListsOnlyWhatWorks is issue 14's "the discovery document
// lists only what works": it reads the document at both well-known names
// (they must be the same) and walks every endpoint it advertises and every
// grant type it lists, against `tamkeen dev`. An endpoint answers in
// OAuth's own terms (a JSON error, a page, a key set), never 404, 405 or
// 501; each grant is understood (never unsupported_grant_type), and
// client_credentials issues a token; a grant that is not listed is
// refused as unsupported.
func TestDiscoveryListsOnlyWhatWorks(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(method, u string, form url.Values) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	doc := func(path string) map[string]any {
		t.Helper()
		code, _, body := fetch(http.MethodGet, base+path, nil)
		var m map[string]any
		if code != http.StatusOK || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
		return m
	}
	oidcDoc, oauthDoc := doc("/.well-known/openid-configuration"), doc("/.well-known/oauth-authorization-server")
	if !reflect.DeepEqual(oidcDoc, oauthDoc) {
		t.Errorf("the two well-known documents differ:\n%v\n%v", oidcDoc, oauthDoc)
	}
	if oidcDoc["issuer"] != base {
		t.Errorf("issuer = %v; want %s", oidcDoc["issuer"], base)
	}

	// Every advertised endpoint, with the method its protocol uses and no
	// credentials: it must answer as that endpoint does.
	methods := map[string]string{
		"authorization_endpoint": http.MethodGet, "userinfo_endpoint": http.MethodGet, "end_session_endpoint": http.MethodGet,
		"jwks_uri": http.MethodGet, "token_endpoint": http.MethodPost, "revocation_endpoint": http.MethodPost,
		"introspection_endpoint": http.MethodPost, "pushed_authorization_request_endpoint": http.MethodPost,
	}
	walked := 0
	for key, v := range oidcDoc {
		if !strings.HasSuffix(key, "_endpoint") && key != "jwks_uri" {
			continue
		}
		u, _ := v.(string)
		method, known := methods[key]
		if !known {
			t.Errorf("discovery advertises %s = %q, which this test does not know how to call: add it", key, u)
			continue
		}
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("%s = %q is not on the issuer's origin %s", key, u, base)
			continue
		}
		var form url.Values
		if method == http.MethodPost {
			form = url.Values{"client_id": {demo.PortalClientID}}
		}
		code, ctype, body := fetch(method, u, form)
		switch {
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented || code >= 500:
			t.Errorf("%s %s (%s) = %d %s; want the endpoint to answer", method, u, key, code, body)
		case key == "jwks_uri" && (code != http.StatusOK || !strings.Contains(body, `"keys"`)):
			t.Errorf("jwks_uri = %d %s; want a key set", code, body)
		case method == http.MethodPost && code >= 400 && !strings.Contains(ctype, "json"):
			t.Errorf("%s refused with %d %q; want an OAuth JSON error", key, code, ctype)
		}
		walked++
	}
	if walked < 7 {
		t.Errorf("walked %d endpoints; want at least authorization, token, userinfo, jwks, end session, revocation and introspection", walked)
	}

	// Every listed grant is understood by the token endpoint; only
	// client_credentials can complete without a browser, and does.
	token := func(form url.Values) (int, map[string]any) {
		t.Helper()
		code, _, body := fetch(http.MethodPost, base+"/oauth2/token", form)
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		return code, m
	}
	grants, _ := oidcDoc["grant_types_supported"].([]any)
	var listed []string
	for _, g := range grants {
		s, _ := g.(string)
		listed = append(listed, s)
		var form url.Values
		switch s {
		case "client_credentials":
			form = url.Values{"grant_type": {s}, "client_id": {demo.ClientID}, "client_secret": {secret}}
		case "authorization_code":
			form = url.Values{"grant_type": {s}, "client_id": {demo.PortalClientID}, "code": {"ac_not-a-code"},
				"redirect_uri": {"http://127.0.0.1:43123/callback"}, "code_verifier": {strings.Repeat("v", 43)}}
		case "refresh_token":
			form = url.Values{"grant_type": {s}, "client_id": {demo.PortalClientID}, "refresh_token": {"rt_not-a-token"}}
		default:
			t.Errorf("grant_types_supported lists %q, which this test does not know how to exercise: add it", s)
			continue
		}
		code, m := token(form)
		switch {
		case m["error"] == "unsupported_grant_type" || code == http.StatusNotFound || code >= 500:
			t.Errorf("grant %s = %d %v; want it understood", s, code, m)
		case s == "client_credentials" && (code != http.StatusOK || m["access_token"] == nil):
			t.Errorf("client_credentials = %d %v; want a token", code, m)
		case s != "client_credentials" && (code != http.StatusBadRequest || m["error"] != "invalid_grant"):
			t.Errorf("grant %s with a made-up credential = %d %v; want 400 invalid_grant", s, code, m)
		}
	}
	for _, want := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(listed, want) {
			t.Errorf("grant_types_supported %v lacks %s", listed, want)
		}
	}
	if code, m := token(url.Values{"grant_type": {"password"}, "client_id": {demo.ClientID}, "client_secret": {secret}}); m["error"] != "unsupported_grant_type" {
		t.Errorf("an unlisted grant (password) = %d %v; want unsupported_grant_type", code, m)
	}
	if rt, _ := oidcDoc["response_types_supported"].([]any); len(rt) != 1 || rt[0] != "code" {
		t.Errorf("response_types_supported = %v; want [code]", rt)
	}
	if cm, _ := oidcDoc["code_challenge_methods_supported"].([]any); len(cm) != 1 || cm[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v; want [S256]", cm)
	}
}
