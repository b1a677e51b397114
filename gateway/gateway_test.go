package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tamkeen/tamkeen/gateway"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// TestTrustedProxyNamesTheClient: behind a trusted proxy the services see
// (x-forwarded-for) the client that proxy names, not the proxy, and not
// what the client wrote in front of it.
func TestTrustedProxyNamesTheClient(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{cfg: gateway.Config{TrustedProxies: []string{"127.0.0.0/8"}}})
	token := s.key.sign(t, clientClaims(s.clock.Now(), "moh-portal", "content:read"), nil)
	resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_42?lang=ar", nil,
		map[string]string{"Authorization": bearer(token), "X-Forwarded-For": "6.6.6.6, 198.51.100.5"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %s)", resp.StatusCode, body)
	}
	s.rec.mu.Lock()
	md := s.rec.contentMeta
	s.rec.mu.Unlock()
	if got := md.Get("x-forwarded-for"); len(got) != 1 || got[0] != "198.51.100.5" {
		t.Errorf("x-forwarded-for = %v; want [198.51.100.5], the address the trusted proxy appended", got)
	}
}

func TestRoundTripCarriesRequestAndTraceIDs(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	token := s.key.sign(t, clientClaims(s.clock.Now(), "moh-portal", "content:read"), nil)
	resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_42?lang=ar&national_id=123", nil,
		map[string]string{"X-Request-Id": "abc-123.x_y", "Authorization": bearer(token), "X-Evil": "1",
			"Grpc-Metadata-X-Evil": "1", "X-Forwarded-For": "6.6.6.6"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %s)", resp.StatusCode, body)
	}
	var item map[string]any
	if err := json.Unmarshal(body, &item); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	// snake_case names, unset fields omitted.
	if item["id"] != "cnt_42" || item["ministry"] != "moh" || item["version"] != float64(3) {
		t.Errorf("item = %v; want id cnt_42, ministry moh, version 3", item)
	}
	if _, ok := item["published_version"]; ok {
		t.Errorf("unset published_version emitted: %s", body)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123.x_y" {
		t.Errorf("X-Request-Id = %q; want the caller's abc-123.x_y", got)
	}
	tr := resp.Header.Get("traceresponse")
	if len(tr) != 55 || !strings.HasPrefix(tr, "00-") {
		t.Errorf("traceresponse = %q; want a W3C traceresponse", tr)
	}

	access := s.gwLog.find(t, "http request")
	if len(access) != 1 {
		t.Fatalf("access log lines = %d; want 1: %v", len(access), s.gwLog.lines(t))
	}
	a := access[0]
	svc := s.svcLog.find(t, "get item")
	if len(svc) != 1 {
		t.Fatalf("service log lines = %d; want 1: %v", len(svc), s.svcLog.lines(t))
	}
	traceID, _ := a["trace_id"].(string)
	if len(traceID) != 32 {
		t.Fatalf("access log trace_id = %v; want 32 hex digits", a["trace_id"])
	}
	if svc[0]["trace_id"] != traceID {
		t.Errorf("service trace_id = %v; want the gateway's %s", svc[0]["trace_id"], traceID)
	}
	if !strings.Contains(tr, traceID) {
		t.Errorf("traceresponse %q does not carry trace %s", tr, traceID)
	}
	if svc[0]["request_id"] != "abc-123.x_y" || a["request_id"] != "abc-123.x_y" {
		t.Errorf("request_id service=%v access=%v; want abc-123.x_y in both", svc[0]["request_id"], a["request_id"])
	}
	for k, want := range map[string]any{"method": "GET", "route": "/v1/content/items/{id}", "status": float64(200),
		"subject": "moh-portal", "client_id": "moh-portal"} {
		if a[k] != want {
			t.Errorf("access log %s = %v; want %v", k, a[k], want)
		}
	}
	if _, ok := a["duration_ms"].(float64); !ok {
		t.Errorf("access log duration_ms = %v; want a number", a["duration_ms"])
	}
	if b, _ := a["bytes"].(float64); int(b) != len(body) {
		t.Errorf("access log bytes = %v; want %d", a["bytes"], len(body))
	}
	// Never the query string (PII) nor the token.
	for _, line := range s.gwLog.lines(t) {
		raw, _ := json.Marshal(line)
		for _, secret := range []string{"national_id", token, "lang=ar"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("gateway log leaks %q: %s", secret, raw)
			}
		}
	}
	// Only authorization and x-request-id come from outside.
	s.rec.mu.Lock()
	md := s.rec.contentMeta
	s.rec.mu.Unlock()
	if got := md.Get("authorization"); len(got) != 1 || got[0] != bearer(token) {
		t.Errorf("authorization metadata = %v; want the caller's", got)
	}
	for _, k := range []string{"x-evil", "grpc-metadata-x-evil", "x-evil-bin"} {
		if got := md.Get(k); len(got) != 0 {
			t.Errorf("%s forwarded as metadata: %v", k, got)
		}
	}
	if got := md.Get("x-forwarded-for"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("x-forwarded-for = %v; want only the connection's address", got)
	}
	if got := md.Get("x-request-id"); len(got) != 1 || got[0] != "abc-123.x_y" {
		t.Errorf("x-request-id metadata = %v; want [abc-123.x_y]", got)
	}
}

func TestRequestIDIsReplacedWhenMalformed(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	tests := []struct {
		name, in string
		keep     bool
	}{
		{name: "absent", in: ""},
		{name: "well formed", in: "req-1", keep: true},
		{name: "64 chars", in: strings.Repeat("a", 64), keep: true},
		{name: "65 chars", in: strings.Repeat("a", 65)},
		{name: "log injection", in: "x\"} {\"level\":\"ERROR"},
		{name: "spaces", in: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.in != "" {
				hdr["X-Request-Id"] = tt.in
			}
			resp, _ := s.do(t, http.MethodGet, "/openapi.json", nil, hdr)
			got := resp.Header.Get("X-Request-Id")
			if tt.keep && got != tt.in {
				t.Errorf("X-Request-Id = %q; want %q kept", got, tt.in)
			}
			if !tt.keep && (got == tt.in || !gateway.ValidRequestID(got) || !strings.HasPrefix(got, "req_")) {
				t.Errorf("X-Request-Id = %q; want a fresh req_ ID", got)
			}
		})
	}
}

func TestInvalidRequestsNameTheField(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	tests := []struct {
		name, method, path, body string
		wantField                string
	}{
		{name: "unknown field", method: http.MethodPost, path: "/v1/content/items", body: `{"type":"faq","colour":"red"}`, wantField: "colour"},
		{name: "wrong type", method: http.MethodPost, path: "/v1/payments", body: `{"amount":"ten"}`, wantField: "amount"},
		{name: "service violation", method: http.MethodPost, path: "/v1/content/items", body: `{"ministry":"moh"}`, wantField: "type"},
		{name: "nested violation", method: http.MethodGet, path: "/v1/content/items/violations", wantField: "translations.ar.title"},
		{name: "bad path parameter", method: http.MethodGet, path: "/v1/content/items/cnt_1/versions/x", wantField: "version"},
		{name: "bad JSON", method: http.MethodPost, path: "/v1/content/items", body: `{"type":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, tt.method, tt.path, strings.NewReader(tt.body), map[string]string{"Content-Type": "application/json"})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d; want 400 (body %s)", resp.StatusCode, body)
			}
			p := problem(t, resp, body)
			if p.Detail == "" {
				t.Errorf("detail empty: %s", body)
			}
			if tt.wantField == "" {
				return
			}
			if len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField || p.Errors[0].Reason == "" {
				t.Errorf("errors = %+v; want one naming %q", p.Errors, tt.wantField)
			}
		})
	}
}

func TestRoutingProblems(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	tests := []struct {
		name, method, path string
		want               int
		wantAllow          string
	}{
		{name: "unknown route", method: http.MethodGet, path: "/v1/nope", want: http.StatusNotFound},
		{name: "unknown nested route", method: http.MethodPost, path: "/v1/content/items/x/explode", want: http.StatusNotFound},
		{name: "wrong method on generated route", method: http.MethodDelete, path: "/v1/payments", want: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD, POST"},
		{name: "wrong method on raw route", method: http.MethodGet, path: "/tsa", want: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "wrong method on own route", method: http.MethodPost, path: "/openapi.json", want: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, tt.method, tt.path, nil, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			problem(t, resp, body)
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q; want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestGRPCCodesMapToHTTPStatus(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	tests := []struct {
		code    codes.Code
		want    int
		generic bool // the service's message must not reach the caller
	}{
		{codes.InvalidArgument, 400, false},
		{codes.Unauthenticated, 401, false},
		{codes.PermissionDenied, 403, false},
		{codes.NotFound, 404, false},
		{codes.AlreadyExists, 409, false},
		{codes.Aborted, 409, false},
		{codes.FailedPrecondition, 409, false},
		{codes.OutOfRange, 400, false},
		{codes.ResourceExhausted, 429, false},
		{codes.Unimplemented, 501, false},
		{codes.Unavailable, 503, true},
		{codes.DeadlineExceeded, 504, true},
		{codes.Canceled, 499, true},
		{codes.Internal, 500, true},
		{codes.Unknown, 500, true},
		{codes.DataLoss, 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			resp, body := s.do(t, http.MethodGet, "/v1/content/items/code-"+strconv.Itoa(int(tt.code)), nil, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			p := problem(t, resp, body)
			if p.TraceID == "" {
				t.Errorf("trace_id missing: %s", body)
			}
			if tt.generic && strings.Contains(string(body), "10.0.0.7") {
				t.Errorf("internals leaked: %s", body)
			}
		})
	}
}

func TestSpecialProblemHeaders(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	tests := []struct {
		name, path     string
		hdr            map[string]string
		want           int
		header, hvalue string
	}{
		{name: "retry info rounds up", path: "/v1/content/items/exhausted-2500", want: 429, header: "Retry-After", hvalue: "3"},
		{name: "no retry info defaults to 1s", path: "/v1/content/items/exhausted-0", want: 429, header: "Retry-After", hvalue: "1"},
		{name: "step-up challenge", path: "/v1/content/items/challenge", want: 401, header: "WWW-Authenticate",
			hvalue: `Bearer error="insufficient_user_authentication", acr_values="loa2", max_age=300`},
		{name: "state conflict", path: "/v1/content/items/precondition", want: 409},
		{name: "conditional request", path: "/v1/content/items/precondition", hdr: map[string]string{"If-Match": `"v3"`}, want: 412},
		{name: "panic", path: "/v1/content/items/panic", want: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, http.MethodGet, tt.path, nil, tt.hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			problem(t, resp, body)
			if tt.header != "" {
				if got := resp.Header.Get(tt.header); got != tt.hvalue {
					t.Errorf("%s = %q; want %q", tt.header, got, tt.hvalue)
				}
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{cfg: gateway.Config{MaxBodyBytes: 64, RawBodyBytes: 16}})
	big := `{"type":"faq","ministry":"` + strings.Repeat("m", 100) + `"}`
	tests := []struct {
		name, path, ct string
		body           string
		chunked        bool
		want           int
	}{
		{name: "JSON within limit", path: "/v1/content/items", ct: "application/json", body: `{"type":"faq"}`, want: 201},
		{name: "JSON over limit", path: "/v1/content/items", ct: "application/json", body: big, want: 413},
		{name: "JSON over limit without length", path: "/v1/content/items", ct: "application/json", body: big, chunked: true, want: 413},
		{name: "raw over raw limit", path: "/tsa", ct: gateway.MediaTimestampQuery, body: strings.Repeat("q", 17), want: 413},
		{name: "raw over raw limit without length", path: "/tsa", ct: gateway.MediaTimestampQuery, body: strings.Repeat("q", 17), chunked: true, want: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd = strings.NewReader(tt.body)
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+tt.path, rd)
			if tt.chunked {
				req, _ = http.NewRequest(http.MethodPost, s.srv.URL+tt.path, struct{ *strings.Reader }{rd})
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", tt.ct)
			req.Header.Set("Authorization", s.defaultAuth)
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, buf.Bytes())
			}
			if tt.want == 413 {
				problem(t, resp, buf.Bytes())
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	resp, body := s.opsGet(t, "/healthz")
	if resp.StatusCode != 200 || !json.Valid(body) {
		t.Fatalf("/healthz = %d %s; want 200 JSON", resp.StatusCode, body)
	}
	resp, body = s.opsGet(t, "/readyz")
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz = %d %s; want 200 when all healthy", resp.StatusCode, body)
	}
	// The operators' endpoints are not on the public API port.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/debug/pprof/"} {
		if resp, _ := s.do(t, http.MethodGet, path, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("API port %s = %d; want 404", path, resp.StatusCode)
		}
	}
	if resp, b := s.opsGet(t, "/debug/pprof/cmdline"); resp.StatusCode != 200 || len(b) == 0 {
		t.Errorf("ops /debug/pprof/cmdline = %d; want 200", resp.StatusCode)
	}
	if resp, _ := s.opsGet(t, "/healthz"); resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("ops /healthz lacks nosniff")
	}
	for _, name := range []string{"auth", "notification", "signature", "payment", "content", "nats"} {
		if !strings.Contains(string(body), `"`+name+`":`) {
			t.Errorf("/readyz body %s does not report %s", body, name)
		}
	}

	s.grpc.Health().SetServingStatus(paymentv1.PaymentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	resp, body = s.opsGet(t, "/readyz")
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz with payment NOT_SERVING = %d; want 503", resp.StatusCode)
	}
	p := problem(t, resp, body)
	if len(p.Errors) != 1 || p.Errors[0].Field != "payment" || p.Errors[0].Reason != "NOT_SERVING" {
		t.Errorf("errors = %+v; want only payment NOT_SERVING", p.Errors)
	}
	s.grpc.Health().SetServingStatus(paymentv1.PaymentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	s.nats.Shutdown()
	deadline := time.Now().Add(5 * time.Second)
	for s.nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	resp, body = s.opsGet(t, "/readyz")
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz with NATS down = %d; want 503", resp.StatusCode)
	}
	p = problem(t, resp, body)
	if len(p.Errors) != 1 || p.Errors[0].Field != "nats" {
		t.Errorf("errors = %+v; want only nats", p.Errors)
	}
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	s.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, nil)
	s.do(t, http.MethodGet, "/v1/content/items/cnt_2", nil, nil)
	s.do(t, http.MethodGet, "/v1/no/such/thing", nil, nil)
	_, body := s.opsGet(t, "/metrics")
	text := string(body)
	for _, want := range []string{
		`gateway_http_requests_total{method="GET",route="/v1/content/items/{id}",status="200"} 2`,
		`gateway_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`gateway_http_request_duration_seconds_count{method="GET",route="/v1/content/items/{id}"} 2`,
		`gateway_http_requests_in_flight 0`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(text, "cnt_1") {
		t.Errorf("/metrics carries a raw path")
	}
}

func TestIdempotencyKeyAndCreated(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	resp, body := s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(`{"amount":"1500","currency":"JOD","idempotency_key":"body-key"}`),
		map[string]string{"Idempotency-Key": "idem-1", "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d; want 201 (body %s)", resp.StatusCode, body)
	}
	resp, body = s.do(t, http.MethodPost, "/v1/payments/pay_1/refunds", strings.NewReader(`{"amount":"100"}`),
		map[string]string{"Idempotency-Key": "idem-2"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("refund status = %d; want 201 (body %s)", resp.StatusCode, body)
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if got := s.rec.payment.GetIdempotencyKey(); got != "idem-1" {
		t.Errorf("payment idempotency_key = %q; want the header's idem-1", got)
	}
	if s.rec.payment.GetAmount() != 1500 || s.rec.payment.GetCurrency() != "JOD" {
		t.Errorf("payment = %v; want 1500 JOD", s.rec.payment)
	}
	if got := s.rec.refund.GetIdempotencyKey(); got != "idem-2" || s.rec.refund.GetPaymentId() != "pay_1" {
		t.Errorf("refund = %v; want payment pay_1, key idem-2", s.rec.refund)
	}
	if got := s.rec.md.Get("idempotency-key"); len(got) != 0 {
		t.Errorf("Idempotency-Key leaked into metadata: %v", got)
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{cfg: gateway.Config{ShutdownTimeout: 2 * time.Second}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.gw.Run(ctx, lis) }()
	resp, err := http.Get("http://" + lis.Addr().String() + "/openapi.json")
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d; want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v; want nil after graceful shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
	if _, err := http.Get("http://" + lis.Addr().String() + "/openapi.json"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  gateway.Config
		deps gateway.Deps
	}{
		{name: "missing backends", cfg: gateway.Config{}},
		{name: "negative body limit", cfg: gateway.Config{MaxBodyBytes: -1}},
		{name: "bad address", cfg: gateway.Config{HTTPAddr: "nocolon"}},
		{name: "issuer not a URL", cfg: gateway.Config{Issuer: "tamkeen"}},
		{name: "issuer with a query", cfg: gateway.Config{Issuer: "https://id.tamkeen.test/?x=1"}},
		{name: "jwks url without issuer", cfg: gateway.Config{JWKSURL: "https://id.tamkeen.test/jwks"}},
		{name: "jwks url not http", cfg: gateway.Config{Issuer: testIssuer, JWKSURL: "file:///etc/jwks.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gateway.New(tt.cfg, tt.deps); !errors.Is(err, gateway.ErrConfig) {
				t.Errorf("New = %v; want ErrConfig", err)
			}
		})
	}
}

func TestHandleAddsRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	s.gw.Handle("GET /dev/inbox", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("inbox " + gateway.RequestID(r.Context())))
	}))
	resp, body := s.do(t, http.MethodGet, "/dev/inbox", nil, map[string]string{"X-Request-Id": "r1"})
	if resp.StatusCode != 200 || string(body) != "inbox r1" {
		t.Errorf("/dev/inbox = %d %q; want 200 \"inbox r1\"", resp.StatusCode, body)
	}
	resp, _ = s.do(t, http.MethodPost, "/dev/inbox", nil, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /dev/inbox = %d Allow %q; want 405 Allow GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
