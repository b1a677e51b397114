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
