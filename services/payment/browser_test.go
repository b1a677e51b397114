package payment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// webdriver is a minimal W3C WebDriver client for chromedriver: enough to
// open a page, type into fields and click.
type webdriver struct {
	t       *testing.T
	base    string
	session string
}

func (wd *webdriver) call(method, path string, body any) map[string]any {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, wd.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		wd.t.Fatalf("webdriver %s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

func (wd *webdriver) s(path string) string { return "/session/" + wd.session + path }

func (wd *webdriver) find(css string) string {
	wd.t.Helper()
	v := wd.call(http.MethodPost, wd.s("/element"), map[string]string{"using": "css selector", "value": css})["value"].(map[string]any)
	for _, id := range v {
		return id.(string)
	}
	wd.t.Fatalf("no element %s", css)
	return ""
}

func (wd *webdriver) typeInto(css, text string) {
	wd.call(http.MethodPost, wd.s("/element/"+wd.find(css)+"/value"), map[string]string{"text": text})
}

func (wd *webdriver) url() string {
	return wd.call(http.MethodGet, wd.s("/url"), nil)["value"].(string)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startChrome starts chromedriver with headless Chromium and a session.
func startChrome(t *testing.T) *webdriver {
	t.Helper()
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Skip("chromedriver is not installed (Debian: apt-get install chromium chromium-driver)")
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, driver, fmt.Sprintf("--port=%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	wd := &webdriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(wd.base + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"args": []string{
			"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=390,844",
		}, "prefs": map[string]any{"intl.accept_languages": "ar,en"}},
	}}}
	v := wd.call(http.MethodPost, "/session", caps)["value"].(map[string]any)
	wd.session = v["sessionId"].(string)
	t.Cleanup(func() { wd.call(http.MethodDelete, wd.s(""), nil) })
	return wd
}

// TestBrowserCheckout: headless Chromium opens next_url, pays with a test
// card on the Arabic page, and lands on the return URL; the payment is
// succeeded and payment.succeeded (the receipt's trigger) is in the outbox.
func TestBrowserCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/return" {
			fmt.Fprintf(w, "<!doctype html><title>Thanks</title><p>Thank you, %s</p>", r.URL.Query().Get("payment_id"))
			return
		}
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	h := newHarness(t, storetest.SQLite(t), func(c *Config, _ *Deps) { c.PublicURL = srv.URL })
	handler.Store(h.svc.HTTPHandler())
	// Chromium runs on the real clock; keep the service's near it.
	h.clk.Advance(time.Until(h.clk.Now()) * -1)
	in := fee("BROWSER")
	in.ReturnURL = srv.URL + "/return"
	p := h.create(in)

	wd := startChrome(t)
	wd.call(http.MethodPost, wd.s("/url"), map[string]string{"url": p.NextURL})
	src := wd.call(http.MethodGet, wd.s("/source"), nil)["value"].(string)
	if !strings.Contains(src, `dir="rtl"`) || !strings.Contains(src, "دينار أردني") || !strings.Contains(src, "100.000") {
		t.Fatalf("checkout page is not the Arabic right-to-left page with the amount:\n%s", src)
	}
	wd.typeInto("#card_number", "4242 4242 4242 4242")
	wd.typeInto("#expiry", "12/30")
	wd.typeInto("#cvc", "123")
	wd.call(http.MethodPost, wd.s("/element/"+wd.find("button[type=submit]")+"/click"), map[string]any{})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.HasPrefix(wd.url(), srv.URL+"/return") {
		if time.Now().After(deadline) {
			t.Fatalf("browser is at %s; want the return URL", wd.url())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := wd.url(); got != srv.URL+"/return?payment_id="+p.ID {
		t.Errorf("landed on %s", got)
	}
	if got := h.get(p.ID); got.State != Succeeded {
		t.Fatalf("payment is %s; want succeeded", got.State)
	}
	if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.succeeded' AND ce_subject = $1`, p.ID); n != 1 {
		t.Errorf("%d payment.succeeded events; want 1", n)
	}
	h.checkLedger()
}
