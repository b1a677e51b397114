package gateway_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
)

// TestInvalidTextIs400NamingThePart: invalid UTF-8 anywhere the gateway
// would copy it into a proto string or gRPC metadata answered 500
// ("grpc: error while marshaling: string field contains invalid UTF-8");
// now it is a 400 problem naming the part, and no service is called.
func TestInvalidTextIs400NamingThePart(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	payment := `{"amount":"1500","currency":"JOD"}`
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		field                    string
	}{
		{name: "path segment", method: http.MethodGet, path: "/v1/content/items/%FF%FE", field: "path"},
		{name: "path segment, public route", method: http.MethodGet, path: "/v1/public/content/a%C3", hdr: map[string]string{"Authorization": ""}, field: "path"},
		{name: "query parameter", method: http.MethodGet, path: "/v1/content/items?page_token=%FF", field: "query.page_token"},
		{name: "query parameter name", method: http.MethodGet, path: "/v1/content/items?%FF=1", field: "query"},
		{name: "Idempotency-Key", method: http.MethodPost, path: "/v1/payments", body: payment, hdr: map[string]string{"Idempotency-Key": "k\xff"}, field: "header.Idempotency-Key"},
		{name: "Authorization on a public route", method: http.MethodPost, path: "/v1/citizens", body: `{}`, hdr: map[string]string{"Authorization": "Bearer \xc3\x28"}, field: "header.Authorization"},
		{name: "webhook signature", method: http.MethodPost, path: "/v1/payments/providers/sandbox/webhook", body: `{}`, hdr: map[string]string{"Authorization": "", "Tamkeen-Signature": "t=1,v1=\xff"}, field: "header.Tamkeen-Signature"},
		{name: "webhook provider", method: http.MethodPost, path: "/v1/payments/providers/%FF/webhook", body: `{}`, hdr: map[string]string{"Authorization": ""}, field: "path"},
		{name: "token form field", method: http.MethodPost, path: "/oauth2/token", body: "grant_type=client_credentials&client_id=%FF&client_secret=x",
			hdr: map[string]string{"Authorization": "", "Content-Type": "application/x-www-form-urlencoded"}, field: "client_id"},
		{name: "token Basic credentials (escaped)", method: http.MethodPost, path: "/oauth2/token", body: "grant_type=client_credentials",
			hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("%FF:secret")), "Content-Type": "application/x-www-form-urlencoded"}, field: "header.Authorization"},
		{name: "token Basic credentials (raw bytes)", method: http.MethodPost, path: "/oauth2/token", body: "grant_type=client_credentials",
			hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:\xff\xfe")), "Content-Type": "application/x-www-form-urlencoded"}, field: "header.Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var resp *http.Response
			var b []byte
			if body != nil {
				resp, b = s.do(t, tc.method, tc.path, body, tc.hdr)
			} else {
				resp, b = s.do(t, tc.method, tc.path, nil, tc.hdr)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s %s = %d %s; want 400", tc.method, tc.path, resp.StatusCode, b)
			}
			p := problem(t, resp, b)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Errorf("errors = %+v; want field %q", p.Errors, tc.field)
			}
		})
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if s.rec.payment != nil || s.rec.issueToken != nil || s.rec.webhook != nil {
		t.Errorf("a refused request reached a service: payment %v, token %v, webhook %v", s.rec.payment, s.rec.issueToken, s.rec.webhook)
	}
}

// TestTrailingJSONIsRefused: json.Decoder stops after the first value, so
// `{…}xyz` and two objects used to create the first one.
func TestTrailingJSONIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	payment := `{"amount":"1500","currency":"JOD"}`
	for _, body := range []string{payment + "xyz", payment + payment, payment + " {", payment + "]", payment + "\x00"} {
		resp, b := s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(body), nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST /v1/payments %q = %d %s; want 400", body, resp.StatusCode, b)
		}
		p := problem(t, resp, b)
		if len(p.Errors) != 1 || p.Errors[0].Field != "body" {
			t.Errorf("errors = %+v; want field body", p.Errors)
		}
	}
	s.rec.mu.Lock()
	got := s.rec.payment
	s.rec.mu.Unlock()
	if got != nil {
		t.Fatalf("a body with trailing data created a payment: %v", got)
	}
	// White space after the value is fine.
	resp, b := s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(payment+" \r\n\t"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/payments with trailing white space = %d %s; want 201", resp.StatusCode, b)
	}
}

// TestJSONRoutesNeedJSONMediaType: a JSON route with a body answers 415
// unless the body is application/json (or +json) in UTF-8; bodiless calls
// need no Content-Type.
func TestJSONRoutesNeedJSONMediaType(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	payment := `{"amount":"1500","currency":"JOD"}`
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx", "garbage;;"} {
		resp, b := s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(payment), map[string]string{"Content-Type": ct})
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST /v1/payments Content-Type %q = %d %s; want 415", ct, resp.StatusCode, b)
			continue
		}
		problem(t, resp, b)
		if got := resp.Header.Get("Accept-Post"); got != "application/json" {
			t.Errorf("Accept-Post = %q; want application/json", got)
		}
	}
	s.rec.mu.Lock()
	got := s.rec.payment
	s.rec.mu.Unlock()
	if got != nil {
		t.Fatalf("a refused media type created a payment: %v", got)
	}
	for _, ct := range []string{"application/json", "application/json; charset=UTF-8", "application/merge-patch+json"} {
		resp, b := s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(payment), map[string]string{"Content-Type": ct})
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("POST /v1/payments Content-Type %q = %d %s; want 201", ct, resp.StatusCode, b)
		}
	}
	// No body, no Content-Type: GET, and a POST action without a body.
	if resp, b := s.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET without Content-Type = %d %s; want 200", resp.StatusCode, b)
	}
	if resp, b := s.do(t, http.MethodPost, "/v1/content/items", nil, nil); resp.StatusCode == http.StatusUnsupportedMediaType {
		t.Errorf("bodiless POST = %d %s; want no 415", resp.StatusCode, b)
	}
}

// TestEveryAnswerIsNosniff covers problems, routing errors, raw routes,
// JSON successes and the docs page, which also forbids framing and
// referrers.
func TestEveryAnswerIsNosniff(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/content/items/cnt_1"},
		{http.MethodGet, "/v1/content/items/code-13"},
		{http.MethodGet, "/no/such/route"},
		{http.MethodDelete, "/v1/payments"},
		{http.MethodGet, "/v1/signing/ca"},
		{http.MethodGet, "/openapi.json"},
		{http.MethodGet, "/docs"},
	} {
		resp, _ := s.do(t, tc.method, tc.path, nil, nil)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options = %q; want nosniff", tc.method, tc.path, resp.StatusCode, got)
		}
	}
	resp, _ := s.do(t, http.MethodGet, "/docs", nil, nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/docs Content-Security-Policy = %q; lacks %q", csp, want)
		}
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("/docs Referrer-Policy = %q; want no-referrer", got)
	}
}

// TestLoopbackOnlyRefusesOtherClients: /dev/inbox (mounted with
// LoopbackOnly) answers a loopback peer only; X-Forwarded-For cannot fake
// one.
func TestLoopbackOnlyRefusesOtherClients(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	s.gw.Handle("GET /dev/inbox", gateway.LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "inbox")
	})))
	for _, tc := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:5000", http.StatusOK},
		{"[::1]:5000", http.StatusOK},
		{"[::ffff:127.0.0.1]:5000", http.StatusOK},
		{"192.0.2.7:5000", http.StatusForbidden},
		{"[2001:db8::1]:5000", http.StatusForbidden},
		{"10.0.0.1:5000", http.StatusForbidden},
		{"garbage", http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodGet, "/dev/inbox", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("X-Forwarded-For", "127.0.0.1")
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("/dev/inbox from %s = %d %s; want %d", tc.remote, w.Code, w.Body, tc.want)
		}
		if tc.want == http.StatusForbidden && (w.Header().Get("Content-Type") != gateway.ProblemContentType || !strings.Contains(w.Body.String(), "loopback-only")) {
			t.Errorf("refusal from %s: %s %s; want a problem", tc.remote, w.Header().Get("Content-Type"), w.Body)
		}
	}
}
