// Package browser drives a headless Chromium from tests, through the Chrome
// DevTools Protocol (github.com/chromedp/chromedp), so that hosted pages —
// the payment sandbox's checkout, the login pages — are tested as a citizen's
// phone shows them: right-to-left in Arabic, no sideways scrolling at 390 px,
// forms filled and submitted, screenshots kept for review.
//
//	page := browser.New(t)
//	page.Mobile()
//	page.Navigate(url)
//	if got := page.Dir(); got != "rtl" { t.Errorf(...) }
//	page.Screenshot("checkout-ar")
//	page.NoHorizontalScroll()
//	page.Fill("card_number", "4242 4242 4242 4242")
//	page.Submit("button[type=submit]")
//	page.NoAxeViolations() // WCAG 2.1 A and AA, by axe-core
//
// Chromium is /usr/bin/chromium (Debian's chromium package, which
// deploy/local/ensure-services.sh installs) or $TAMKEEN_CHROMIUM. Without
// it New fails the test, as the PostgreSQL suites do, unless
// TAMKEEN_TEST_SKIP_BROWSER=1, which skips it instead. So does Axe without
// axe-core, which the same script installs with npm ci into axe/ (with
// TAMKEEN_TEST_SKIP_BROWSER=1 only the accessibility check is skipped).
//
// Every call is bounded by Page.Timeout, so a hung browser fails the test
// that uses it, never the whole suite.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// DefaultExecPath is where Debian's chromium package puts the browser.
	DefaultExecPath = "/usr/bin/chromium"
	// ExecPathEnv names a variable holding another Chromium binary.
	ExecPathEnv = "TAMKEEN_CHROMIUM"
	// SkipEnv, set to 1, skips browser tests when Chromium is absent
	// instead of failing them.
	SkipEnv = "TAMKEEN_TEST_SKIP_BROWSER"
	// ArtifactsEnv names a directory that keeps screenshots after the run
	// (one sub-directory per test); without it they go to t.TempDir().
	ArtifactsEnv = "TAMKEEN_TEST_ARTIFACTS"

	// MobileWidth and MobileHeight are the viewport of Mobile: a common
	// phone in CSS pixels, the width the hosted pages must fit.
	MobileWidth, MobileHeight = 390, 844

	// startTimeout bounds starting Chromium and opening its first tab.
	startTimeout = 30 * time.Second
	// DefaultTimeout is Page.Timeout's starting value.
	DefaultTimeout = 15 * time.Second
)

// flags are Chromium's command line, chosen for this machine rather than
// taken from chromedp's defaults: without the background-networking flags
// Chromium's own connections (component updates, sync, QUIC probes) are
// refused here and slow or break page loads.
var flags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("no-sandbox", true), // tests run as root in containers
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	// A small /dev/shm (containers) crashes renderers; /tmp is fine.
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("mute-audio", true),
}

// Page is one tab of a headless Chromium started for one test.
type Page struct {
	t   testing.TB
	ctx context.Context
	// Timeout bounds each call; a call that takes longer fails the test.
	Timeout time.Duration
	// width is the emulated viewport width, 0 before Mobile or Viewport.
	width int64
	// mobile is set by Mobile or Viewport(…, true).
	mobile bool
	dir    string
	// axeSkipped is set once Axe has said it skips (no axe-core, SkipEnv).
	axeSkipped bool
}

// New starts a headless Chromium with a fresh profile and returns its tab;
// the browser is closed when the test ends.
func New(t testing.TB) *Page {
	t.Helper()
	path := DefaultExecPath
	if p := os.Getenv(ExecPathEnv); p != "" {
		path = p
	}
	exe, err := exec.LookPath(path)
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("browser: Chromium is not at %s, and %s=1 skips browser tests", path, SkipEnv)
		}
		t.Fatalf("browser: Chromium is not at %s: %v\n"+
			"Install it with deploy/local/ensure-services.sh (Debian: chromium), point %s at a Chromium binary, "+
			"or set %s=1 to skip browser tests.", path, err, ExecPathEnv, SkipEnv)
	}

	path = exe
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
	}, flags...)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp reports protocol errors through errorf; after the test
	// ends t.Logf would panic, so late reports are dropped.
	var mu sync.Mutex
	ended := false
	errorf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			t.Logf("browser: "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(errorf))
	t.Cleanup(func() {
		// Close gracefully, then make sure the process is gone (allocCancel
		// waits for it) before t.TempDir removes the profile.
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_ = chromedp.Cancel(cctx)
		ccancel()
		cancel()
		allocCancel()
		mu.Lock()
		ended = true
		mu.Unlock()
	})

	// The first Run starts the browser and lives as long as its context,
	// so it cannot carry a timeout itself: wait for it here instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browser: start %s: %v", path, err)
		}
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("browser: %s did not start within %s", path, startTimeout)
	}
	return &Page{t: t, ctx: ctx, Timeout: DefaultTimeout}
}

// run runs the action under p.Timeout and fails the test on error.
func run[T any](p *Page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", p.Timeout, err)
		}
		p.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// Viewport emulates a screen of width×height CSS pixels at device scale 1.
// mobile makes Chromium honour <meta name="viewport"> and emulate touch, as
// a phone does.
func (p *Page) Viewport(width, height int64, mobile bool) {
	p.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1), chromedp.EmulatePortrait}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	run(p, fmt.Sprintf("viewport %d×%d", width, height), chromedp.EmulateViewport(width, height, opts...))
	p.width, p.mobile = width, mobile
}

// Mobile emulates a phone: MobileWidth×MobileHeight, touch, meta viewport.
func (p *Page) Mobile() {
	p.t.Helper()
	p.Viewport(MobileWidth, MobileHeight, true)
}

// AcceptLanguage sets the Accept-Language header of every later request
// (e.g. "en" or "ar"), as a phone set to that language sends it.
func (p *Page) AcceptLanguage(lang string) {
	p.t.Helper()
	run(p, "accept-language "+lang, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return err
	}))
}

// Navigate opens url and waits until the page has loaded; it returns the
// HTTP status of the document.
func (p *Page) Navigate(url string) int {
	p.t.Helper()
	resp := run(p, "navigate to "+url, chromedp.NavigateResponse(url))
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// Fill types value into the input, select or textarea named name (the
// first one on the page), replacing what it held.
func (p *Page) Fill(name, value string) {
	p.t.Helper()
	css := fmt.Sprintf("[name=%q]", name)
	quoted, _ := json.Marshal(css)
	clear := chromedp.Evaluate[bool](`((e) => { e.value = ""; return true })(document.querySelector(` + string(quoted) + `))`)
	// Typed key by key (not set by script) so that the page sees what a
	// person's typing makes: key events, input events, maxlength.
	run(p, "fill "+name, chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(css)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error { _, err := clear(ctx, t); return err }),
		chromedp.SendKeys(chromedp.CSS(css), value, chromedp.NodeVisible),
	))
}

// Click clicks the element matching the CSS selector and returns without
// waiting for whatever it starts; use Submit when it loads another page.
func (p *Page) Click(selector string) {
	p.t.Helper()
	run(p, "click "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Submit clicks the element matching the CSS selector (a submit button or
// link) and waits until the page it leads to has loaded, following
// redirects; it returns that page's HTTP status.
func (p *Page) Submit(selector string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
	if err != nil {
		p.t.Fatalf("browser: submit with %s (no page loaded within %s?): %v", selector, p.Timeout, err)
	}
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// URL is the address of the current page.
func (p *Page) URL() string {
	p.t.Helper()
	return run(p, "read the URL", chromedp.Location())
}

// Lang is the page's document.documentElement.lang.
func (p *Page) Lang() string {
	p.t.Helper()
	return p.Eval(`document.documentElement.lang`)
}

// Dir is the page's document.documentElement.dir ("rtl", "ltr" or "").
func (p *Page) Dir() string {
	p.t.Helper()
	return p.Eval(`document.documentElement.dir`)
}

// Eval evaluates a JavaScript expression that yields a string.
func (p *Page) Eval(expr string) string {
	p.t.Helper()
	return run(p, "evaluate "+expr, chromedp.Evaluate[string](expr))
}

// Text is the rendered text of the first element matching the CSS
// selector, waiting for it to be visible.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	return strings.TrimSpace(run(p, "text of "+selector, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible)))
}

// Screenshot saves what the viewport shows as <name>.png in the test's
// artifact directory ($TAMKEEN_TEST_ARTIFACTS/<test> when set, else a
// t.TempDir()) and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	png := run(p, "screenshot "+name, chromedp.CaptureScreenshot())
	path := filepath.Join(p.artifactDir(), safeName(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("browser: save screenshot: %v", err)
	}
	p.t.Logf("browser: screenshot %s", path)
	return path
}

// overflow is what NoHorizontalScroll measures.
type overflow struct {
	ScrollWidth  int64  `json:"scrollWidth"`
	InnerWidth   int64  `json:"innerWidth"`
	ViewportMeta bool   `json:"viewportMeta"`
	Widest       string `json:"widest"`
}

// NoHorizontalScroll fails the test when the page is wider than the
// screen: document.documentElement.scrollWidth > window.innerWidth, naming
// the element that sticks out furthest.
//
// After Mobile, Chromium behaves as a phone does and widens the layout
// viewport to fit content that is too wide (then shrinks the whole page to
// the screen), so innerWidth alone would hide the overflow; the check
// therefore also wants innerWidth to be the emulated width, and the page to
// have <meta name="viewport">, without which a phone lays it out 980 px wide
// and shrinks it to an unreadable size.
func (p *Page) NoHorizontalScroll() {
	p.t.Helper()
	limit := p.width // 0: the window's own width
	got := run(p, "measure the page width", chromedp.Evaluate[overflow](fmt.Sprintf(`(() => {
		const limit = %d || window.innerWidth;
		let widest = "", far = limit;
		for (const el of document.body ? document.body.querySelectorAll("*") : []) {
			const r = el.getBoundingClientRect();
			const out = Math.max(r.right, limit - r.left);
			if (out > far) {
				far = out;
				widest = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
					(typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
			}
		}
		return {
			scrollWidth: document.documentElement.scrollWidth,
			innerWidth: window.innerWidth,
			viewportMeta: !!document.querySelector('meta[name="viewport"]'),
			widest,
		};
	})()`, limit)))
	if limit == 0 {
		limit = got.InnerWidth
	}
	switch {
	case p.mobile && !got.ViewportMeta:
		p.t.Errorf("browser: %s has no <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">: "+
			"a phone lays it out %d px wide and shrinks it", p.URL(), got.InnerWidth)
	case got.ScrollWidth > limit || got.InnerWidth > limit:
		p.t.Errorf("browser: %s is wider than the %d px screen (scrollWidth %d, innerWidth %d); it sticks out furthest at %s",
			p.URL(), limit, got.ScrollWidth, got.InnerWidth, got.Widest)
	}
}

// artifactDir is where this test's screenshots go, made on first use.
func (p *Page) artifactDir() string {
	if p.dir != "" {
		return p.dir
	}
	p.dir = p.t.TempDir()
	if root := os.Getenv(ArtifactsEnv); root != "" {
		p.dir = filepath.Join(root, safeName(p.t.Name()))
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			p.t.Fatalf("browser: artifacts: %v", err)
		}
	}
	return p.dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName makes a test or screenshot name a file name.
func safeName(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_")
}
