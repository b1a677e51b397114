package browser_test

import (
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tamkeen/tamkeen/tools/internal/browser"
)

// pages serves a right-to-left form that posts, a 303 after the post, and a
// page that is too wide for a phone.
func pages(t *testing.T) *httptest.Server {
	t.Helper()
	const head = `<!doctype html><html lang="%s" dir="%s"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1"><title>t</title></head><body>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, head+`<h1 id="title">تسجيل الدخول</h1><form method="post" action="/form">`+
			`<input name="national_id" value="stale"><input name="password" type="password">`+
			`<button type="submit">دخول</button></form>`, "ar", "rtl")
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/done?id="+r.PostFormValue("national_id")+"&pw="+r.PostFormValue("password"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, head+`<p id="who">%s</p>`, "en", "ltr", html.EscapeString(r.URL.Query().Get("id")))
	})
	mux.HandleFunc("GET /wide", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, head+`<table id="ledger" style="width:600px"><tr><td>x</td></tr></table>`, "en", "ltr")
	})
	mux.HandleFunc("GET /desktop", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><body><p>no meta viewport</p>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// recorder is a testing.TB that keeps Errorf's messages instead of
// failing, to see what the checks report.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := pages(t)
	rec := &recorder{TB: t}
	p := browser.New(rec)
	p.Mobile()

	if got := p.Navigate(srv.URL + "/form"); got != http.StatusOK {
		t.Errorf("Navigate = %d; want 200", got)
	}
	if lang, dir := p.Lang(), p.Dir(); lang != "ar" || dir != "rtl" {
		t.Errorf("lang, dir = %q, %q; want ar, rtl", lang, dir)
	}
	if got := p.Text("#title"); got != "تسجيل الدخول" {
		t.Errorf("Text(#title) = %q; want تسجيل الدخول", got)
	}
	p.NoHorizontalScroll()

	shot := p.Screenshot("form ar")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != browser.MobileWidth || cfg.Height != browser.MobileHeight {
		t.Errorf("screenshot %s: %d×%d, %v; want a %d×%d PNG", shot, cfg.Width, cfg.Height, err, browser.MobileWidth, browser.MobileHeight)
	}

	p.Fill("national_id", "401234567")
	p.Fill("password", "s3cret")
	if got := p.Submit("button[type=submit]"); got != http.StatusOK {
		t.Errorf("Submit = %d; want 200 after the 303", got)
	}
	if got, want := p.URL(), srv.URL+"/done?id=401234567&pw=s3cret"; got != want {
		t.Errorf("URL after submit = %s; want %s (Fill must replace the old value)", got, want)
	}
	if got := p.Text("#who"); got != "401234567" {
		t.Errorf("Text(#who) = %q; want 401234567", got)
	}
	if len(rec.errs) > 0 {
		t.Errorf("checks on pages that fit reported %q", rec.errs)
	}

	rec.errs = nil
	p.Navigate(srv.URL + "/wide")
	p.NoHorizontalScroll()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "wider than the 390 px screen") || !strings.Contains(rec.errs[0], "table#ledger") {
		t.Errorf("NoHorizontalScroll on a 600 px table (phone) reported %q; want one error naming table#ledger", rec.errs)
	}

	// Without mobile emulation the window keeps its width and the page
	// scrolls: the plain scrollWidth > innerWidth case.
	rec.errs = nil
	p.Viewport(browser.MobileWidth, browser.MobileHeight, false)
	p.Navigate(srv.URL + "/wide")
	p.NoHorizontalScroll()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "innerWidth 390") || !strings.Contains(rec.errs[0], "table#ledger") {
		t.Errorf("NoHorizontalScroll on a 600 px table (desktop) reported %q; want one error naming table#ledger", rec.errs)
	}
	p.Mobile()

	rec.errs = nil
	p.Navigate(srv.URL + "/desktop")
	p.NoHorizontalScroll()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "no <meta name=\"viewport\"") {
		t.Errorf("NoHorizontalScroll without a meta viewport reported %q; want one error about it", rec.errs)
	}
}

func TestAcceptLanguage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><p id="al">%s</p>`, html.EscapeString(r.Header.Get("Accept-Language")))
	}))
	defer srv.Close()
	p := browser.New(t)
	p.AcceptLanguage("en")
	p.Navigate(srv.URL)
	if got := p.Text("#al"); got != "en" {
		t.Errorf("Accept-Language = %q; want en", got)
	}
}

// TestBrowserAxe: axe-core runs on pages served with a strict CSP (no
// scripts at all), passes a labelled, contrasting page and names the rules
// and elements an unlabelled, pale, language-less page breaks.
func TestBrowserAxe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	if _, err := os.Stat(browser.AxePath()); err != nil && os.Getenv(browser.SkipEnv) == "1" {
		t.Skipf("axe-core is not installed (%v), and %s=1", err, browser.SkipEnv)
	}
	const csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">`+
			`<meta name="viewport" content="width=device-width, initial-scale=1"><title>دخول</title></head>`+
			`<body><main><h1>تسجيل الدخول</h1><script>document.title = "ran"</script><form method="post">`+
			`<label for="nid">رقم الهوية</label><input id="nid" name="national_id" autocomplete="username">`+
			`<button type="submit">دخول</button></form></main></body></html>`)
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>`+
			`<body><main><h1>Sign in</h1><p id="pale" style="color:#bbb;background:#fff">faint text</p>`+
			`<input id="bare" name="national_id"></main></body></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	rec := &recorder{TB: t}
	p := browser.New(rec)
	p.Mobile()
	p.Navigate(srv.URL + "/good")
	if got := p.Eval(`document.title`); got != "دخول" {
		t.Fatalf("title = %q; the page's inline script ran, so the CSP is not in force", got)
	}
	if vs := p.Axe(); len(vs) != 0 {
		t.Errorf("Axe on a clean page = \n%s; want nothing", browser.FormatAxe(vs))
	}
	p.NoAxeViolations()
	if len(rec.errs) > 0 {
		t.Errorf("NoAxeViolations on a clean page reported %q", rec.errs)
	}

	p.Navigate(srv.URL + "/bad")
	got := map[string]string{}
	for _, v := range p.Axe() {
		got[v.ID] = fmt.Sprint(v.Nodes[0].Target)
	}
	for id, target := range map[string]string{"label": "#bare", "color-contrast": "#pale", "html-has-lang": "html"} {
		if !strings.Contains(got[id], target) {
			t.Errorf("Axe on the bad page: %s at %q; want it at %s (all: %v)", id, got[id], target, got)
		}
	}
	// The tags choose the rules: contrast is level AA, not A.
	for _, v := range p.Axe("wcag2a") {
		if v.ID == "color-contrast" {
			t.Error(`Axe("wcag2a") reported color-contrast, a level AA rule`)
		}
	}
	rec.errs = nil
	p.NoAxeViolations()
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "label (critical)") || !strings.Contains(rec.errs[0], "#bare") {
		t.Errorf("NoAxeViolations on the bad page reported %q; want one error listing label at #bare", rec.errs)
	}
}
