package gateway_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test -update and review the diff", name)
	}
}

func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	resp, body := s.do(t, http.MethodGet, "/openapi.json", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, s.gw.OpenAPI()) {
		t.Errorf("/openapi.json differs from Gateway.OpenAPI()")
	}
	golden(t, "openapi.golden.json", body)
}

// designRoutes is the route table of DESIGN.md section 7.
var designRoutes = []string{
	"POST /oauth2/token",
	"GET /.well-known/openid-configuration",
	"GET /.well-known/jwks.json",
	"POST /v1/citizens",
	"POST /v1/auth/login",
	"POST /v1/auth/otp/challenges",
	"POST /v1/auth/otp/challenges/{challenge_id}:verify",
	"POST /v1/auth/totp:enroll",
	"POST /v1/auth/totp:confirm",
	"POST /v1/auth/refresh",
	"POST /v1/auth/logout",
	"POST /v1/notifications/sms",
	"POST /v1/notifications/email",
	"GET /v1/notifications/{id}",
	"POST /v1/templates",
	"GET /v1/templates",
	"POST /v1/signing/credentials",
	"POST /v1/signing/credentials/{credential_id}:authorize",
	"POST /v1/signatures",
	"POST /v1/signatures:verify",
	"POST /tsa",
	"GET /v1/signing/ca",
	"GET /v1/signing/crl",
	"POST /v1/payments",
	"GET /v1/payments/{id}",
	"POST /v1/payments/{payment_id}/refunds",
	"POST /v1/payments/providers/{provider}/webhook",
	"GET /v1/ledger/trial-balance",
	"POST /v1/content/items",
	"PUT /v1/content/items/{id}/draft",
	"POST /v1/content/items/{id}:submit",
	"POST /v1/content/items/{id}:approve",
	"POST /v1/content/items/{id}:reject",
	"POST /v1/content/items/{id}:publish",
	"POST /v1/content/items/{id}:unpublish",
	"POST /v1/content/items/{id}:rollback",
	"GET /v1/content/items/{id}/versions",
	"GET /v1/public/content/{slug}",
	"GET /v1/public/search",
	"GET /openapi.json",
	"GET /docs",
}

func TestOpenAPIListsDesignRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	var doc struct {
		Info        struct{ Title, Version string }
		Paths       map[string]map[string]json.RawMessage
		Definitions map[string]json.RawMessage
	}
	if err := json.Unmarshal(s.gw.OpenAPI(), &doc); err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	if doc.Info.Title == "" || doc.Info.Version != "v1" {
		t.Errorf("info = %+v; want a title and version v1", doc.Info)
	}
	for _, r := range designRoutes {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("OpenAPI lacks %s", r)
		}
	}
	if _, ok := doc.Definitions["Problem"]; !ok {
		t.Errorf("OpenAPI lacks the Problem schema")
	}
	if _, ok := doc.Definitions["Status"]; ok {
		t.Errorf("OpenAPI still documents google.rpc.Status errors")
	}
	var token struct {
		Consumes   []string `json:"consumes"`
		Parameters []struct {
			Name, In string
		} `json:"parameters"`
	}
	if err := json.Unmarshal(doc.Paths["/oauth2/token"]["post"], &token); err != nil {
		t.Fatal(err)
	}
	if len(token.Consumes) != 1 || token.Consumes[0] != "application/x-www-form-urlencoded" || len(token.Parameters) == 0 || token.Parameters[0].In != "formData" {
		t.Errorf("/oauth2/token = %+v; want form parameters", token)
	}
	// Every route the gateway serves is in the document and vice versa:
	// each documented operation answers something other than 404/405.
	for path, ops := range doc.Paths {
		for method := range ops {
			concrete := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
			req, _ := http.NewRequest(strings.ToUpper(method), s.srv.URL+concrete, strings.NewReader("{}"))
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, concrete, err)
			}
			resp.Body.Close()
			if resp.StatusCode == 404 && resp.Header.Get("Content-Type") == "application/problem+json" && !strings.Contains(path, "{") {
				// NotFound from a service is fine; a routing 404 is not.
				t.Errorf("%s %s: 404", method, path)
			}
			if resp.StatusCode == 405 {
				t.Errorf("%s %s: 405; documented but not routed", method, path)
			}
		}
	}
}

func TestDocsPage(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	resp, body := s.do(t, http.MethodGet, "/docs", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{
		"مرجع واجهة تمكين البرمجية", "<style>",
		"PaymentService", `/v1/payments/{payment_id}/refunds`, "Idempotency-Key",
		"/v1/content/items/{id}:publish", "<code>national_id</code>", "<code>grant_type</code>", "formData",
		"application/timestamp-query", "Operations", "/openapi.json",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//|@import|url\(\s*["']?(https?:)?//`).FindString(page); m != "" {
		t.Errorf("/docs loads an external asset: %q", m)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("/docs contains an absolute http(s) URL")
	}
	golden(t, "docs.golden.html", body)
}
