package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
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
	"GET /openapi.yaml",
	"GET /docs",
}

func TestOpenAPIListsDesignRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Info       struct{ Title, Version string }
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(s.gw.OpenAPI(), &doc); err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q; want 3.1.0", doc.OpenAPI)
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
	if _, ok := doc.Components.Schemas["Problem"]; !ok {
		t.Errorf("OpenAPI lacks the Problem schema")
	}
	if _, ok := doc.Components.Schemas["Status"]; ok {
		t.Errorf("OpenAPI still documents google.rpc.Status errors")
	}
	var token struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]any `json:"properties"`
					Required   []string       `json:"required"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	if err := json.Unmarshal(doc.Paths["/oauth2/token"]["post"], &token); err != nil {
		t.Fatal(err)
	}
	form, ok := token.RequestBody.Content["application/x-www-form-urlencoded"]
	if !ok || len(token.RequestBody.Content) != 1 || form.Schema.Properties["grant_type"] == nil || !slices.Contains(form.Schema.Required, "grant_type") {
		t.Errorf("/oauth2/token = %+v; want a form body with grant_type required", token)
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
	for _, want := range []string{"مرجع واجهة تمكين البرمجية", "API reference", `lang="ar" dir="rtl"`,
		`<script src="/docs/redoc.standalone.js"></script>`, `Redoc.init("/openapi.json"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	// Every script is the gateway's own: the bundle by 'self', the inline
	// start-up script by its hash in the CSP.
	csp := resp.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, directive) {
			t.Errorf("CSP %q lacks %q", csp, directive)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'unsafe-inline'") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q is not strict", csp)
	}
	inline := regexp.MustCompile(`<script>([^<]*)</script>`).FindAllStringSubmatch(page, -1)
	if len(inline) != 1 {
		t.Fatalf("/docs has %d inline scripts; want 1", len(inline))
	}
	sum := sha256.Sum256([]byte(inline[0][1]))
	if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, hash) {
		t.Errorf("CSP %q lacks the inline script's hash %s", csp, hash)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`).FindString(page); m != "" {
		t.Errorf("/docs loads an external asset: %q", m)
	}
	resp, script := s.do(t, http.MethodGet, "/docs/redoc.standalone.js", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || len(script) < 100_000 {
		t.Errorf("/docs/redoc.standalone.js = %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(script))
	}
	golden(t, "docs.golden.html", body)
}

// TestOpenAPIValid loads the served document with kin-openapi's loader
// and validates it as OpenAPI 3.1, every example against its schema.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(s.gw.OpenAPI())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q; want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	// The YAML is the same document.
	resp, body := s.do(t, http.MethodGet, "/openapi.yaml", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("/openapi.yaml = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fromYAML, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("load YAML: %v", err)
	}
	a, _ := json.Marshal(doc)
	b, _ := json.Marshal(fromYAML)
	if !bytes.Equal(a, b) {
		t.Errorf("/openapi.yaml and /openapi.json differ")
	}
}

// TestOpenAPIComplete checks what a ministry developer relies on: every
// operation has an example of its request and response (DER bodies
// aside), 4xx problem+json responses with the Problem schema, the
// Idempotency-Key header where creation is retried, required fields,
// security schemes, servers and webhooks.
func TestOpenAPIComplete(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	doc, err := openapi3.NewLoader().LoadFromData(s.gw.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			name := method + " " + path
			if rb := op.RequestBody; rb != nil {
				for media, mt := range rb.Value.Content {
					if isJSONish(media) && mt.Example == nil {
						t.Errorf("%s: no %s request example", name, media)
					}
				}
			}
			ok2xx, has4xx := false, false
			for code, r := range op.Responses.Map() {
				switch {
				case strings.HasPrefix(code, "2"):
					ok2xx = true
					for media, mt := range r.Value.Content {
						if isJSONish(media) && mt.Example == nil {
							t.Errorf("%s: %s response has no %s example", name, code, media)
						}
					}
				case strings.HasPrefix(code, "4") || code == "default":
					has4xx = has4xx || strings.HasPrefix(code, "4")
					mt := r.Value.Content.Get("application/problem+json")
					if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" || mt.Example == nil {
						t.Errorf("%s: %s is not a problem+json Problem with an example", name, code)
					}
				}
			}
			if !ok2xx || !has4xx {
				t.Errorf("%s: 2xx %v, 4xx %v; want both", name, ok2xx, has4xx)
			}
		}
	}
	if ops < 60 {
		t.Errorf("%d operations; want the whole API", ops)
	}
	for _, op := range []*openapi3.Operation{doc.Paths.Find("/v1/payments").Post, doc.Paths.Find("/v1/payments/{payment_id}/refunds").Post,
		doc.Paths.Find("/v1/mandates").Post} {
		if p := op.Parameters.GetByInAndName("header", "Idempotency-Key"); p == nil {
			t.Errorf("%s lacks the Idempotency-Key header", op.OperationID)
		}
		if op.Responses.Status(422) == nil {
			t.Errorf("%s lacks 422", op.OperationID)
		}
	}
	if req := doc.Components.Schemas["CreatePaymentRequest"].Value.Required; !slices.Contains(req, "amount") || !slices.Contains(req, "currency") {
		t.Errorf("CreatePaymentRequest required = %v; want amount and currency", req)
	}
	if e := doc.Components.Schemas["Payment"].Value.Properties["state"].Value.Enum; len(e) == 0 {
		t.Errorf("Payment.state has no enum")
	}
	schemes := doc.Components.SecuritySchemes
	if cc := schemes["client"].Value.Flows.ClientCredentials; cc == nil || cc.TokenURL == "" {
		t.Errorf("no client-credentials flow")
	}
	if ac := schemes["citizen"].Value.Flows.AuthorizationCode; ac == nil || ac.AuthorizationURL == "" {
		t.Errorf("no authorization-code flow")
	}
	if b := schemes["bearer"].Value; b.Type != "http" || b.Scheme != "bearer" {
		t.Errorf("bearer scheme = %+v", b)
	}
	if len(doc.Servers) == 0 {
		t.Errorf("no servers")
	}
	if wh := doc.Webhooks["notificationStatus"]; wh == nil || wh.Post == nil || wh.Post.Parameters.GetByInAndName("header", "Tamkeen-Signature") == nil {
		t.Errorf("no signed notification status webhook")
	}
}

// isJSONish reports whether a body of this media type has an example:
// all but the DER ones (time-stamps, OCSP, the CRL), whose bytes say
// nothing to a reader.
func isJSONish(media string) bool {
	switch media {
	case "application/timestamp-query", "application/timestamp-reply", "application/ocsp-request", "application/ocsp-response", "application/pkix-crl":
		return false
	}
	return true
}

// TestServiceOpenAPIDocuments: each enabler's own document at
// /openapi/{service} (what an X-Road security server registers as that
// enabler's REST service) validates as OpenAPI 3.1 with its examples, holds
// only that enabler's operations, and together they hold every enabler
// operation of /openapi.json; an unknown enabler is a 404 problem.
func TestServiceOpenAPIDocuments(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	whole, err := openapi3.NewLoader().LoadFromData(s.gw.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // "METHOD path" → service, from the whole document
	for path, item := range whole.Paths.Map() {
		for method, op := range item.Operations() {
			if len(op.Tags) == 1 && strings.HasSuffix(op.Tags[0], "Service") {
				want[method+" "+path] = strings.ToLower(strings.TrimSuffix(op.Tags[0], "Service"))
			}
		}
	}
	got := map[string]string{}
	for _, svc := range []string{"auth", "content", "notification", "payment", "signature"} {
		resp, body := s.do(t, http.MethodGet, "/openapi/"+svc, nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /openapi/%s = %d %s", svc, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		doc, err := openapi3.NewLoader().LoadFromData(body)
		if err != nil {
			t.Fatalf("%s: load: %v", svc, err)
		}
		if doc.OpenAPI != "3.1.0" || !strings.HasSuffix(doc.Info.Title, ": "+svc) || len(doc.Servers) == 0 {
			t.Errorf("%s: openapi %q, title %q, %d servers", svc, doc.OpenAPI, doc.Info.Title, len(doc.Servers))
		}
		if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
			t.Errorf("%s: validate: %v", svc, err)
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				key := method + " " + path
				if want[key] != svc {
					t.Errorf("%s's document has %s (tags %v), which is %q's", svc, key, op.Tags, want[key])
				}
				got[key] = svc
			}
		}
		if len(doc.Components.Schemas) >= len(whole.Components.Schemas) && svc != "content" {
			t.Errorf("%s: %d schemas, as many as the whole document's %d: unused ones not pruned", svc, len(doc.Components.Schemas), len(whole.Components.Schemas))
		}
	}
	if len(got) != len(want) {
		t.Errorf("the enablers' documents hold %d operations; /openapi.json has %d enabler operations", len(got), len(want))
	}
	resp, body := s.do(t, http.MethodGet, "/openapi/gateway", nil, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "payment") {
		t.Errorf("GET /openapi/gateway = %d %s; want a 404 problem naming the documents", resp.StatusCode, body)
	}
}
