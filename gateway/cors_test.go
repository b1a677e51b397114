package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/gateway"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// originsServer is auth's ClientOriginsService answering rec.origins.
type originsServer struct {
	authv1.UnimplementedClientOriginsServiceServer
	rec *recorder
}

func (o *originsServer) ListClientOrigins(context.Context, *authv1.ListClientOriginsRequest) (*authv1.ListClientOriginsResponse, error) {
	o.rec.mu.Lock()
	defer o.rec.mu.Unlock()
	if o.rec.origins == nil {
		return nil, status.Error(codes.Unavailable, "auth is down")
	}
	resp := &authv1.ListClientOriginsResponse{}
	for id, origins := range o.rec.origins {
		resp.Clients = append(resp.Clients, &authv1.ClientOrigins{ClientId: id, Origins: origins})
	}
	return resp, nil
}

// The origins the CORS tests register: two ministries' web apps.
const (
	mohOrigin   = "https://app.moh.ps"
	mofOrigin   = "https://pay.mof.ps"
	evilOrigin  = "https://evil.example"
	ownOrigin   = "https://id.tamkeen.test" // testIssuer's
	corsHeaders = "Accept, Accept-Language, Authorization, Content-Language, Content-Type, Idempotency-Key, If-None-Match, traceparent, tracestate, X-Request-Id"
)

// newCORSStack is a stack whose auth registered mohOrigin for moh-web and
// mofOrigin for mof-web; the origins are loaded once (no refresh during
// the test), so that the calls counter counts only the calls under test.
func newCORSStack(t *testing.T) *stack {
	t.Helper()
	s := newStack(t, stackOpts{cfg: gateway.Config{CORSRefresh: time.Hour}})
	s.rec.mu.Lock()
	s.rec.origins = map[string][]string{"moh-web": {mohOrigin}, "mof-web": {mofOrigin, "http://localhost:5173"}}
	s.rec.mu.Unlock()
	return s
}

// checkCORS compares a response's CORS headers with the expected
// Access-Control-Allow-Origin (""= none) and checks the rules every
// answer keeps: no credentials ever, the exposed headers with any
// allowed origin, none without.
func checkCORS(t *testing.T, name string, resp *http.Response, wantOrigin string) {
	t.Helper()
	h := resp.Header
	if got := h.Get("Access-Control-Allow-Origin"); got != wantOrigin {
		t.Errorf("%s: Access-Control-Allow-Origin = %q; want %q", name, got, wantOrigin)
	}
	if got := h.Values("Access-Control-Allow-Origin"); len(got) > 1 {
		t.Errorf("%s: %d Access-Control-Allow-Origin headers; want at most 1", name, len(got))
	}
	if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("%s: Access-Control-Allow-Credentials = %q; want none (never, with * least of all)", name, got)
	}
	expose := h.Get("Access-Control-Expose-Headers")
	switch {
	case wantOrigin != "" && resp.Request.Method != http.MethodOptions:
		for _, want := range []string{"ETag", "Location", "Retry-After", "X-Request-Id"} {
			if !strings.Contains(expose, want) {
				t.Errorf("%s: Access-Control-Expose-Headers = %q; want %s in it", name, expose, want)
			}
		}
	case wantOrigin == "" && expose != "":
		t.Errorf("%s: Access-Control-Expose-Headers = %q without an allowed origin", name, expose)
	}
}

// varyOrigin reports whether the response varies on Origin.
func varyOrigin(resp *http.Response) bool {
	for _, v := range resp.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Origin") {
				return true
			}
		}
	}
	return false
}

// The actual (non-preflight) requests: public routes × any origin get *,
// an authenticated route × its client's origin gets the origin, ×
// another client's or an unregistered origin is refused before the
// service, and same-origin and origin-less calls are untouched.
func TestCORSMatrix(t *testing.T) {
	s := newCORSStack(t)
	now := s.clock.Now()
	moh := bearer(s.key.sign(t, clientClaims(now, "moh-web", allScopes...), nil))
	mof := bearer(s.key.sign(t, clientClaims(now, "mof-web", allScopes...), nil))
	nobody := bearer(s.key.sign(t, clientClaims(now, "no-web", allScopes...), nil))
	citizenMoh := bearer(s.key.sign(t, with(citizenClaims(now, "ctz_1", "loa1", now), map[string]any{"azp": "moh-web"}), nil))
	citizenOther := bearer(s.key.sign(t, citizenClaims(now, "ctz_2", "loa1", now), nil)) // azp citizen-app

	for _, tc := range []struct {
		name, method, path, origin, auth string
		wantStatus                       int
		wantOrigin                       string
		wantKind                         string // the problem type's end, for refusals
		wantVary                         bool
	}{
		// Public, credential-free routes: * for any origin, even without one.
		{"public PKI × unregistered origin", "GET", "/v1/signing/ca", evilOrigin, "", 200, "*", "", false},
		{"public PKI × registered origin", "GET", "/v1/signing/ca", mohOrigin, "", 200, "*", "", false},
		{"public PKI × no origin", "GET", "/v1/signing/ca", "", "", 200, "*", "", false},
		{"public PKI HEAD × any origin", "HEAD", "/v1/signing/ca", evilOrigin, "", 200, "*", "", false},
		{"openapi.json × any origin", "GET", "/openapi.json", evilOrigin, "", 200, "*", "", false},
		{"public content × any origin", "GET", "/v1/public/content/faq", evilOrigin, "", 501, "*", "", false},
		{"discovery × any origin", "GET", "/.well-known/openid-configuration", evilOrigin, "", 501, "*", "", false},
		// The docs page is the gateway's own: no CORS.
		{"docs × any origin", "GET", "/docs", evilOrigin, "", 200, "", "", false},

		// Authenticated route: only the token's client's origins.
		{"client route × its client's origin", "GET", "/v1/content/items/x", mohOrigin, moh, 200, mohOrigin, "", true},
		{"client route × its client's second origin", "GET", "/v1/content/items/x", "http://localhost:5173", mof, 200, "http://localhost:5173", "", true},
		{"client route × another client's origin", "GET", "/v1/content/items/x", mofOrigin, moh, 403, "", "origin-not-allowed", true},
		{"client route × unregistered origin", "GET", "/v1/content/items/x", evilOrigin, moh, 403, "", "origin-not-allowed", true},
		{"client without origins × registered origin", "GET", "/v1/content/items/x", mohOrigin, nobody, 403, "", "origin-not-allowed", true},
		{"client route × no origin (a server)", "GET", "/v1/content/items/x", "", moh, 200, "", "", true},
		{"client route × the gateway's own origin", "GET", "/v1/content/items/x", ownOrigin, moh, 200, "", "", true},
		{"citizen of the client's app × its origin", "GET", "/v1/content/items/x", mohOrigin, citizenMoh, 200, mohOrigin, "", true},
		{"citizen of another app × the origin", "GET", "/v1/content/items/x", mohOrigin, citizenOther, 403, "", "origin-not-allowed", true},
		// A registered app can read why it was refused (and the challenge).
		{"client route × registered origin, no token", "GET", "/v1/content/items/x", mohOrigin, "", 401, mohOrigin, "missing-token", true},
		{"client route × unregistered origin, no token", "GET", "/v1/content/items/x", evilOrigin, "", 401, "", "missing-token", true},
		// A public write (refresh, the token endpoint) admits registered origins only.
		{"public write × registered origin", "POST", "/v1/auth/refresh", mohOrigin, "", 501, mohOrigin, "", true},
		{"public write × unregistered origin", "POST", "/v1/auth/refresh", evilOrigin, "", 501, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": tc.auth}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			var body *strings.Reader
			if tc.method == http.MethodPost {
				body = strings.NewReader(`{"refresh_token":"x"}`)
			}
			before := s.calls.Load()
			var resp *http.Response
			var raw []byte
			if body != nil {
				resp, raw = s.do(t, tc.method, tc.path, body, hdr)
			} else {
				resp, raw = s.do(t, tc.method, tc.path, nil, hdr)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s; want %d", resp.StatusCode, raw, tc.wantStatus)
			}
			checkCORS(t, tc.name, resp, tc.wantOrigin)
			if got := varyOrigin(resp); got != tc.wantVary {
				t.Errorf("Vary: Origin = %v (Vary %q); want %v", got, resp.Header.Values("Vary"), tc.wantVary)
			}
			if tc.wantKind != "" {
				if p := problem(t, resp, raw); p.Type != "urn:tamkeen:problem:"+tc.wantKind {
					t.Errorf("problem type = %q; want urn:tamkeen:problem:%s", p.Type, tc.wantKind)
				}
			}
			if tc.wantStatus == http.StatusForbidden && s.calls.Load() != before {
				t.Errorf("a refused cross-origin call reached a service (%d calls)", s.calls.Load()-before)
			}
		})
	}
}

// Preflights are answered by the gateway, never by a service: the route's
// methods, the allowed headers, Max-Age and Vary for an admitted origin,
// 403 problem+json without any CORS header otherwise.
func TestCORSPreflight(t *testing.T) {
	s := newCORSStack(t)
	// Load the origins before counting calls.
	s.do(t, http.MethodGet, "/v1/content/items/x", nil, map[string]string{"Origin": mohOrigin})
	for _, tc := range []struct {
		name, path, origin, method, headers string
		wantStatus                          int
		wantOrigin                          string
		wantMethods                         []string
	}{
		{"payments × registered origin", "/v1/payments", mohOrigin, "POST", "authorization,content-type,idempotency-key", 204, mohOrigin, []string{"GET", "HEAD", "POST"}},
		{"payments × another client's origin", "/v1/payments", mofOrigin, "POST", "authorization,content-type", 204, mofOrigin, []string{"GET", "HEAD", "POST"}},
		{"item × registered origin, every API header", "/v1/content/items/x", mohOrigin, "GET",
			"Accept-Language, If-None-Match, traceparent, tracestate, X-Request-Id, Authorization", 204, mohOrigin, []string{"GET", "HEAD"}},
		{"payments × unregistered origin", "/v1/payments", evilOrigin, "POST", "authorization", 403, "", nil},
		{"payments × registered origin, unknown header", "/v1/payments", mohOrigin, "POST", "authorization,x-evil", 403, "", nil},
		{"payments × registered origin, unrouted method", "/v1/payments", mohOrigin, "DELETE", "", 403, "", nil},
		{"public PKI × any origin", "/v1/signing/ca", evilOrigin, "GET", "", 204, "*", []string{"GET", "HEAD"}},
		{"public PKI HEAD × any origin", "/v1/signing/ca", evilOrigin, "HEAD", "", 204, "*", []string{"GET", "HEAD"}},
		{"JWKS × any origin", "/.well-known/jwks.json", "null", "GET", "", 204, "*", []string{"GET", "HEAD"}},
		{"public content × any origin", "/v1/public/content/faq", evilOrigin, "GET", "accept-language", 204, "*", []string{"GET", "HEAD"}},
		{"docs × any origin", "/docs", evilOrigin, "GET", "", 403, "", nil},
		{"no such path", "/v1/nothing", mohOrigin, "GET", "", 403, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.calls.Load()
			hdr := map[string]string{"Authorization": "", "Origin": tc.origin, "Access-Control-Request-Method": tc.method}
			if tc.headers != "" {
				hdr["Access-Control-Request-Headers"] = tc.headers
			}
			resp, raw := s.do(t, http.MethodOptions, tc.path, nil, hdr)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s; want %d", resp.StatusCode, raw, tc.wantStatus)
			}
			if n := s.calls.Load() - before; n != 0 {
				t.Errorf("the preflight made %d backend calls; want 0", n)
			}
			checkCORS(t, tc.name, resp, tc.wantOrigin)
			if !varyOrigin(resp) {
				t.Errorf("Vary = %q; want Origin in it", resp.Header.Values("Vary"))
			}
			if tc.wantStatus != http.StatusNoContent {
				p := problem(t, resp, raw)
				if p.Type != "urn:tamkeen:problem:cors-preflight-refused" || p.Detail == "" {
					t.Errorf("problem = %+v; want cors-preflight-refused with a detail", p)
				}
				for _, h := range []string{"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
					if v := resp.Header.Get(h); v != "" {
						t.Errorf("refused preflight has %s %q", h, v)
					}
				}
				return
			}
			var methods []string
			for _, m := range strings.Split(resp.Header.Get("Access-Control-Allow-Methods"), ",") {
				methods = append(methods, strings.TrimSpace(m))
			}
			slices.Sort(methods)
			if !slices.Equal(methods, tc.wantMethods) {
				t.Errorf("Access-Control-Allow-Methods = %q; want %v", resp.Header.Get("Access-Control-Allow-Methods"), tc.wantMethods)
			}
			if got := resp.Header.Get("Access-Control-Allow-Headers"); got != corsHeaders {
				t.Errorf("Access-Control-Allow-Headers = %q; want %q", got, corsHeaders)
			}
			if got := resp.Header.Get("Access-Control-Max-Age"); got != "7200" {
				t.Errorf("Access-Control-Max-Age = %q; want 7200", got)
			}
			if len(raw) != 0 {
				t.Errorf("preflight body %q; want none", raw)
			}
		})
	}

	// The refusal says what to do about an unregistered origin.
	resp, raw := s.do(t, http.MethodOptions, "/v1/payments", nil, map[string]string{"Authorization": "", "Origin": evilOrigin, "Access-Control-Request-Method": "POST"})
	if p := problem(t, resp, raw); !strings.Contains(p.Detail, "tamkeen clients update") || !strings.Contains(p.Detail, evilOrigin) {
		t.Errorf("refusal detail %q; want the origin and the command that registers it", p.Detail)
	}
}

// Until auth answers, no registered origin is admitted (the public routes
// still are), and the gateway says why in its log.
func TestCORSOriginsUnavailable(t *testing.T) {
	s := newStack(t, stackOpts{}) // rec.origins nil: auth answers Unavailable
	resp, _ := s.do(t, http.MethodOptions, "/v1/payments", nil, map[string]string{"Authorization": "", "Origin": mohOrigin, "Access-Control-Request-Method": "POST"})
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight while auth is down = %d, ACAO %q; want 403 without CORS", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if len(s.gwLog.find(t, "the clients' web origins are unavailable: no registered origin is admitted until they load")) == 0 {
		t.Error("no log line says the origins are unavailable")
	}
	resp, _ = s.do(t, http.MethodOptions, "/v1/signing/ca", nil, map[string]string{"Authorization": "", "Origin": mohOrigin, "Access-Control-Request-Method": "GET"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("public preflight while auth is down = %d, ACAO %q; want 204 *", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// BenchmarkCORSPreflight is the gateway's cost of answering one admitted
// preflight of an authenticated route (route probe, the origins snapshot,
// header checks), in-process, without the network.
func BenchmarkCORSPreflight(b *testing.B) {
	s := newStack(b, stackOpts{noNATS: true, cfg: gateway.Config{CORSRefresh: time.Hour}})
	s.rec.mu.Lock()
	s.rec.origins = map[string][]string{"moh-web": {mohOrigin}}
	s.rec.mu.Unlock()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodOptions, "/v1/payments", nil)
		req.Header.Set("Origin", mohOrigin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("preflight = %d %s", rec.Code, rec.Body)
		}
	}
}
