package openapilint

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/tools/internal/browser"
)

// docsGateway serves a gateway whose enablers are never called: /docs,
// /openapi.json and the Redoc bundle are the gateway's own.
func docsGateway(t *testing.T) string {
	t.Helper()
	conn := func() *grpc.ClientConn {
		// Connections are lazy: nothing dials an address nobody uses.
		c, err := grpc.NewClient("passthrough:///enabler.invalid:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	g, err := gateway.New(gateway.Config{Version: "v1", Issuer: issuer}, gateway.Deps{Backends: gateway.Backends{
		Auth: conn(), Notification: conn(), Signature: conn(), Payment: conn(), Content: conn(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBrowserDocsShowExamplesAndErrors opens /docs in headless Chromium:
// Redoc, from the gateway and under the page's strict CSP, renders the
// bilingual page, an operation's request and response examples and its
// problem+json error responses.
func TestBrowserDocsShowExamplesAndErrors(t *testing.T) {
	t.Parallel()
	base := docsGateway(t)
	resp, err := http.Get(base + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self' 'sha256-") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("/docs CSP = %q; want the strict one", csp)
	}

	page := browser.New(t)
	// Redoc lays out the whole API (70 operations) on the page's main
	// thread: on a loaded two-core machine that outlasts the default
	// bound of one browser step.
	page.Timeout = time.Minute
	page.Viewport(1400, 900, false)
	if got := page.Navigate(base + "/docs"); got != http.StatusOK {
		t.Fatalf("/docs = %d", got)
	}
	if got := page.Text(`header.tamkeen section[lang="ar"] h1`); got != "مرجع واجهة تمكين البرمجية" {
		t.Errorf("Arabic heading %q", got)
	}
	if got := page.Text(`header.tamkeen section:not([lang]) h1`); !strings.Contains(got, "API reference") {
		t.Errorf("English heading %q", got)
	}

	// Redoc has rendered the operation (it fetched /openapi.json: connect-src
	// 'self'), with its request example, its 201 example and its errors.
	op := `[id="operation/PaymentService_CreatePayment"]`
	text := page.Text(op)
	page.Screenshot("docs-create-payment")
	for _, want := range []string{
		"Idempotency-Key",
		"رسوم تسجيل قطعة أرض — دائرة تسجيل الأراضي", // the request example
		"dept:land-registry",
		"201",
		"400", "The request is malformed or a field is invalid",
		"422", "The Idempotency-Key was used before with a different request body",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("CreatePayment section lacks %q:\n%s", want, text)
		}
	}
	// The 422 tab of the response samples shows the problem+json example.
	if got := page.Eval(`(() => { const tab = [...document.querySelectorAll('` + op + ` li[role="tab"]')].find((e) => e.textContent.trim() === "422"); if (!tab) return "no tab"; tab.click(); return "ok"; })()`); got != "ok" {
		t.Fatalf("CreatePayment response samples: 422 tab: %s", got)
	}
	text = page.Text(op)
	page.Screenshot("docs-create-payment-422")
	for _, want := range []string{"application/problem+json", "urn:tamkeen:problem:idempotency-key-reused", "Idempotency-Key reused with a different request", "request_id"} {
		if !strings.Contains(text, want) {
			t.Errorf("CreatePayment 422 sample lacks %q:\n%s", want, text)
		}
	}
	// The webhook a ministry receives is documented too.
	if got := page.Eval(`document.body.innerText.includes("Notification status callback") ? "yes" : "no"`); got != "yes" {
		t.Errorf("/docs does not show the notification status webhook")
	}
}
