package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/browser"
)

// `tamkeen clients create|update --allowed-origin` registers a client's
// web origins as browsers serialize them, refuses the ones CORS must not
// trust with the reason, and update replaces (or removes) them.
func TestClientsAllowedOrigins(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "moh-web", "--name", "MoH web", "--scopes", "content:read",
		"--allowed-origin", "HTTPS://App.MoH.ps:443", "--allowed-origin", "http://localhost:5173")
	if code != 0 {
		t.Fatalf("create with origins = exit %d\n%s\n%s", code, out, errOut)
	}
	origins := func() []string {
		t.Helper()
		var got []clientJSON
		decodeJSON(t, mustRun(t, "clients", "list", "--data-dir", dir, "-o", "json"), &got)
		for _, c := range got {
			if c.ID == "moh-web" {
				return c.AllowedOrigins
			}
		}
		t.Fatal("moh-web is not listed")
		return nil
	}
	if got, want := origins(), []string{"http://localhost:5173", "https://app.moh.ps"}; !slices.Equal(got, want) {
		t.Errorf("origins after create = %q; want %q", got, want)
	}

	for _, tc := range []struct{ origin, want string }{
		{"https://*.moh.ps", "wildcard"},
		{"*", "wildcard"},
		{"https://app.moh.ps/portal", "must not have a path"},
		{"http://app.moh.ps", "must be https"},
		{"app.moh.ps", "is not an origin"},
		{"null", `"null"`},
	} {
		code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "bad-web", "--name", "bad", "--scopes", "content:read", "--allowed-origin", tc.origin)
		if code == 0 || !strings.Contains(errOut, "allowed_origins") || !strings.Contains(errOut, tc.want) {
			t.Errorf("create --allowed-origin %q = exit %d, %q; want a failure naming allowed_origins and %q", tc.origin, code, errOut, tc.want)
		}
		code, _, errOut = runTool(t, "clients", "update", "--data-dir", dir, "--id", "moh-web", "--allowed-origin", tc.origin)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("update --allowed-origin %q = exit %d, %q; want a failure naming %q", tc.origin, code, errOut, tc.want)
		}
	}
	if got := origins(); len(got) != 2 {
		t.Errorf("refused updates changed the origins to %q", got)
	}

	if out := mustRun(t, "clients", "update", "--data-dir", dir, "--id", "moh-web", "--allowed-origin", "https://portal.moh.ps"); !strings.Contains(out, "https://portal.moh.ps") {
		t.Errorf("update output %q; want the new origin", out)
	}
	if got, want := origins(), []string{"https://portal.moh.ps"}; !slices.Equal(got, want) {
		t.Errorf("origins after update = %q; want %q (replaced)", got, want)
	}
	for _, args := range [][]string{
		{"clients", "update", "--data-dir", dir, "--id", "moh-web"},
		{"clients", "update", "--data-dir", dir, "--id", "moh-web", "--allowed-origin", "https://a.ps", "--no-allowed-origins"},
		{"clients", "rotate-secret", "--data-dir", dir, "--id", "moh-web", "--allowed-origin", "https://a.ps"},
	} {
		if code, _, errOut := runTool(t, args...); code != 2 || !strings.Contains(errOut, "allowed-origin") {
			t.Errorf("%s = exit %d, %q; want 2 naming the flag", strings.Join(args, " "), code, errOut)
		}
	}
	if code, _, errOut := runTool(t, "clients", "update", "--data-dir", dir, "--id", "nobody", "--allowed-origin", "https://a.ps"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("update of an unknown client = exit %d, %q; want 1, not found", code, errOut)
	}
	mustRun(t, "clients", "update", "--data-dir", dir, "--id", "moh-web", "--no-allowed-origins")
	if got := origins(); len(got) != 0 {
		t.Errorf("origins after --no-allowed-origins = %q; want none", got)
	}
}

// corsPage serves the ministry's web page: it fetch()es discovery, JWKS
// and the public content API, then an authenticated API call with its own
// client's token and one with another client's, and shows the outcome of
// each (the HTTP status, or "blocked" when the browser refused it) as JSON
// in #done.
type corsPage struct {
	mu                         sync.Mutex
	base, ownToken, otherToken string
}

// set gives the page the gateway and the tokens it uses.
func (p *corsPage) set(base, ownToken, otherToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base, p.ownToken, p.otherToken = base, ownToken, otherToken
}

func (p *corsPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r) // the browser's /favicon.ico
		return
	}
	p.mu.Lock()
	cfg, _ := json.Marshal(map[string]string{"base": p.base, "own": p.ownToken, "other": p.otherToken})
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html lang="ar" dir="rtl"><meta charset="utf-8"><title>تطبيق الوزارة</title>
<script>
const cfg = %s;
async function probe(path, opts) {
  try {
    const r = await fetch(cfg.base + path, opts);
    await r.text();
    return String(r.status);
  } catch (e) {
    return "blocked";
  }
}
(async () => {
  const bearer = (tok) => ({headers: {"Authorization": "Bearer " + tok, "Accept-Language": "ar"}});
  const out = {
    discovery: await probe("/.well-known/openid-configuration"),
    jwks: await probe("/.well-known/jwks.json"),
    content: await probe("/v1/public/content?ministry=moh"),
    own_client: await probe("/v1/templates", bearer(cfg.own)),
    other_client: await probe("/v1/templates", bearer(cfg.other)),
  };
  const pre = document.createElement("pre");
  pre.id = "done";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script><body><h1>تطبيق الوزارة</h1></body></html>`, cfg)
}

// TestCORSBrowser is issue 17's must-show in headless Chromium against
// `tamkeen dev`: a ministry page served from another origin
// (127.0.0.1:<port> of a test server, not the gateway's) reads discovery,
// JWKS and the public content API, and calls the authenticated API with
// its client's token when that client registered the page's origin; the
// same page from an unregistered origin reads the public routes but its
// authenticated call is refused by the browser (preflight 403), and a
// token of another client is refused even from a registered origin.
func TestCORSBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev and Chromium")
	}
	dir := t.TempDir()
	base, logs := startDevIn(t, dir, clocktest.New(time.Now().UTC()), appEnv)
	demoToken := clientToken(t, base, appSecret)

	pg := &corsPage{}
	allowed := httptest.NewServer(pg)
	t.Cleanup(allowed.Close)
	refused := httptest.NewServer(pg)
	t.Cleanup(refused.Close)
	if allowed.URL == base || refused.URL == base || allowed.URL == refused.URL {
		t.Fatalf("origins are not distinct: %s %s %s", base, allowed.URL, refused.URL)
	}

	// The ministry's web app registers the allowed page's origin; the
	// gateway reads it from auth at the first cross-origin call.
	c := createMatrixClient(t, dir, "moh-web", "moh", []string{"templates:read", "content:read"})
	mustRun(t, "clients", "update", "--data-dir", dir, "--id", "moh-web", "--allowed-origin", allowed.URL)
	mohToken := c.token(t, base, []string{"templates:read"})
	pg.set(base, mohToken, demoToken)

	page := browser.New(t)
	outcome := func(url string) map[string]string {
		t.Helper()
		if got := page.Navigate(url); got != http.StatusOK {
			t.Fatalf("navigate to %s = %d", url, got)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(page.Text("#done")), &got); err != nil {
			t.Fatalf("page outcome: %v", err)
		}
		return got
	}
	for _, tc := range []struct {
		name, url string
		want      map[string]string
	}{
		{"registered origin", allowed.URL, map[string]string{
			"discovery": "200", "jwks": "200", "content": "200", "own_client": "200", "other_client": "blocked"}},
		{"unregistered origin", refused.URL, map[string]string{
			"discovery": "200", "jwks": "200", "content": "200", "own_client": "blocked", "other_client": "blocked"}},
	} {
		got := outcome(tc.url)
		for k, want := range tc.want {
			if got[k] != want {
				t.Errorf("%s: %s = %q; want %q (all: %v)", tc.name, k, got[k], want, got)
			}
		}
	}
	if t.Failed() {
		t.Logf("dev logs:\n%s", logs)
	}
}
