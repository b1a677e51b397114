package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// TestOIDCRoutesAreLimitedAndAudited: the OpenID Provider's /oauth2/
// pages and the token hand-off pass through the gateway's request id,
// rate limits per source (public class) and audit log like every API
// route: a burst from one source is cut at the bucket's size with 429s
// that never reach auth, and the code exchange and a page each leave an
// audit record.
func TestOIDCRoutesAreLimitedAndAudited(t *testing.T) {
	t.Parallel()
	db := migrate(t, storetest.SQLite(t))
	var reached atomic.Int64
	op := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/oauth2/token" {
			if !strings.Contains(string(body), "grant_type=authorization_code") {
				t.Errorf("token hand-off body = %q", body)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer","id_token":"it"}`)
			return
		}
		_, _ = io.WriteString(w, "<html>sign in</html>")
	})
	s := newStack(t, stackOpts{db: db, oidc: op, cfg: gateway.Config{Audit: true, RateLimits: []string{"public=1/5"}}})
	s.clock.Freeze()
	noAuth := map[string]string{"Authorization": ""}

	form := url.Values{"grant_type": {"authorization_code"}, "code": {"c"}, "redirect_uri": {"http://127.0.0.1/cb"},
		"client_id": {"portal"}, "code_verifier": {"v"}}
	resp, body := s.do(t, http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()),
		map[string]string{"Authorization": "", "Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id_token"`) {
		t.Fatalf("code exchange = %d %s; want the provider's answer", resp.StatusCode, body)
	}
	tokenReq := resp.Header.Get("X-Request-Id")

	ok, limited := 0, 0
	var pageReq string
	for range 8 {
		resp, body := s.do(t, http.MethodGet, "/oauth2/authorize?client_id=portal&response_type=code", nil, noAuth)
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET /oauth2/authorize without X-Request-Id")
		}
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
			pageReq = resp.Header.Get("X-Request-Id")
		case http.StatusTooManyRequests:
			limited++
			if p := problem(t, resp, body); p.Type != "urn:tamkeen:problem:rate-limited" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 = %s Retry-After %q; want rate-limited with Retry-After", p.Type, resp.Header.Get("Retry-After"))
			}
		default:
			t.Errorf("GET /oauth2/authorize = %d %s", resp.StatusCode, body)
		}
	}
	// The bucket holds 5: the exchange took one.
	if ok != 4 || limited != 4 || reached.Load() != 5 {
		t.Fatalf("burst of 8: %d passed, %d limited, %d reached auth; want 4, 4 and 5", ok, limited, reached.Load())
	}

	audit := func(requestID string) (route, rpc string, status int) {
		t.Helper()
		err := db.QueryRowContext(context.Background(), `SELECT route, rpc, status FROM gateway_audit WHERE request_id = $1`, requestID).
			Scan(&route, &rpc, &status)
		if err != nil {
			t.Fatalf("audit record of %s: %v", requestID, err)
		}
		return route, rpc, status
	}
	if route, rpc, status := audit(tokenReq); route != "POST /oauth2/token" || rpc != authv1.AuthService_IssueToken_FullMethodName || status != 200 {
		t.Errorf("code exchange audited as %s %s %d; want POST /oauth2/token, IssueToken, 200", route, rpc, status)
	}
	if route, rpc, status := audit(pageReq); !strings.HasPrefix(route, "GET /oauth2/") || rpc != gateway.OIDCMethod || status != 200 {
		t.Errorf("authorize audited as %s %s %d; want GET /oauth2/…, %s, 200", route, rpc, status, gateway.OIDCMethod)
	}
	var refused int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM gateway_audit WHERE status = 429 AND rpc = $1`, gateway.OIDCMethod).Scan(&refused); err != nil {
		t.Fatal(err)
	}
	if refused != 4 {
		t.Errorf("%d limited calls audited; want 4", refused)
	}
}

// TestOIDCProxyReachesOnlyOAuth2: behind --oidc-url the gateway proxies
// /oauth2/ to auth's operations listener, which also serves /metrics and
// the /debug/pprof/ profiles. No spelling of a path under /oauth2/ (dot
// segments, encoded or not, doubled slashes) gets one of those back to a
// caller: the upstream's own mux redirects non-canonical paths to the
// gateway, which does not route them.
func TestOIDCProxyReachesOnlyOAuth2(t *testing.T) {
	t.Parallel()
	const metric, page = "tamkeen_secret_metric 1", "<html>sign in</html>"
	mux := http.NewServeMux()
	telemetry.HandleProfiles(mux)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, metric) })
	mux.HandleFunc("/oauth2/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, page) })
	upstream := httptest.NewServer(mux)
	defer upstream.Close()
	s := newStack(t, stackOpts{cfg: gateway.Config{OIDCURL: upstream.URL}})
	noAuth := map[string]string{"Authorization": ""}
	if resp, body := s.do(t, http.MethodGet, "/oauth2/authorize", nil, noAuth); resp.StatusCode != http.StatusOK || string(body) != page {
		t.Fatalf("GET /oauth2/authorize = %d %q; want the provider's page", resp.StatusCode, body)
	}
	cmdline := filepath.Base(os.Args[0])
	// What a leak would look like, fetched from the upstream itself.
	for path, want := range map[string]string{"/metrics": metric, "/debug/pprof/cmdline": cmdline} {
		resp, err := http.Get(upstream.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Fatalf("upstream %s = %.80q; want it to contain %q", path, b, want)
		}
	}
	for _, path := range []string{
		"/oauth2/../metrics", "/oauth2/%2e%2e/metrics", "/oauth2/..%2fmetrics", "/oauth2/%2E%2E%2Fmetrics",
		"/oauth2/../debug/pprof/cmdline", "/oauth2/%2e%2e/debug/pprof/cmdline", "/oauth2/..%2Fdebug%2Fpprof%2Fcmdline",
		"/oauth2//debug/pprof/cmdline", "/oauth2/./../debug/pprof/", "/oauth2/..\\debug/pprof/cmdline",
	} {
		resp, body := s.do(t, http.MethodGet, path, nil, noAuth)
		if strings.Contains(string(body), metric) || strings.Contains(string(body), cmdline) || strings.Contains(string(body), "goroutine") {
			t.Errorf("GET %s = %d %.120q: the upstream's operations endpoint leaked", path, resp.StatusCode, body)
		}
	}
}
