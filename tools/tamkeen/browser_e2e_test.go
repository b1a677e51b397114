package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/browser"
)

// TestBrowserCheckoutThroughGateway: a citizen's phone (headless Chromium at
// 390×844, Arabic) opens a payment's next_url through `tamkeen dev`'s
// gateway: the sandbox checkout is Arabic and right-to-left, its English
// switch gives the left-to-right page, neither scrolls sideways (nor does
// the page with form errors), and paying with a test card lands on the
// ministry's return URL with the payment succeeded through the API.
// Screenshots go to $TAMKEEN_TEST_ARTIFACTS when set.
func TestBrowserCheckoutThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev and Chromium")
	}
	const secret = "demo-ministry-secret-for-tests"
	// Chromium and the card's expiry check run on the real clock.
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)

	// The ministry's app, where the payer comes back to.
	ministry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="ar" dir="rtl"><meta charset="utf-8"><title>شكرًا</title><p id="back">شكرًا</p>`)
	}))
	defer ministry.Close()

	pay := apiCall{t: t, base: base, method: http.MethodPost, path: "/v1/payments", token: token, body: map[string]any{
		"amount": "100000", "currency": "JOD", "reference": "BROWSER-2026-0001",
		"description": "ضريبة الأملاك", "return_url": ministry.URL + "/done",
		"splits": []map[string]any{{"account": "dept:land-registry", "amount": "100000"}},
	}}
	var created struct {
		ID      string `json:"id"`
		NextURL string `json:"next_url"`
	}
	if resp, raw := pay.do(&created); resp.StatusCode != http.StatusCreated || !strings.HasPrefix(created.NextURL, base+"/sandbox/checkout/") {
		t.Fatalf("create payment = %d %s; want 201 with next_url under %s/sandbox/checkout/", resp.StatusCode, raw, base)
	}

	page := browser.New(t)
	page.Mobile()
	page.AcceptLanguage("ar")

	check := func(name, lang, dir, heading string) {
		t.Helper()
		if gotLang, gotDir := page.Lang(), page.Dir(); gotLang != lang || gotDir != dir {
			t.Errorf("%s: lang, dir = %q, %q; want %q, %q", name, gotLang, gotDir, lang, dir)
		}
		if got := page.Text("h1"); got != heading {
			t.Errorf("%s: heading %q; want %q", name, got, heading)
		}
		page.Screenshot(name)
		page.NoHorizontalScroll()
		page.NoAxeViolations() // WCAG 2.1 A and AA
	}

	if got := page.Navigate(created.NextURL); got != http.StatusOK {
		t.Fatalf("checkout = %d; want 200", got)
	}
	check("checkout-ar", "ar", "rtl", "الدفع")
	if got := page.Text(".amount"); got != "100.000 دينار أردني" {
		t.Errorf("amount %q; want 100.000 دينار أردني", got)
	}

	page.Submit(`header a[hreflang="en"]`)
	check("checkout-en", "en", "ltr", "Payment")
	if got := page.Text(".amount"); got != "100.000 JOD" {
		t.Errorf("English amount %q; want 100.000 JOD", got)
	}

	page.Submit(`header a[hreflang="ar"]`)
	page.Fill("card_number", "4242 4242 4242 4242")
	page.Fill("expiry", "01/20") // in the past: the page says so
	page.Fill("cvc", "123")
	if got := page.Submit(`button[type="submit"]`); got != http.StatusUnprocessableEntity {
		t.Errorf("pay with an old expiry = %d; want 422 (the form again, with errors)", got)
	}
	check("checkout-ar-errors", "ar", "rtl", "الدفع")
	if got := page.Text(".error-text"); !strings.Contains(got, "تاريخ انتهاء") {
		t.Errorf("expiry error %q; want the Arabic expiry message", got)
	}

	page.Fill("card_number", "4242 4242 4242 4242")
	page.Fill("expiry", "12/"+time.Now().AddDate(2, 0, 0).Format("06"))
	page.Fill("cvc", "123")
	page.Submit(`button[type="submit"]`)
	if got, want := page.URL(), ministry.URL+"/done?payment_id="+created.ID; got != want {
		t.Fatalf("after paying the browser is at %s; want %s", got, want)
	}

	get := apiCall{t: t, base: base, method: http.MethodGet, path: "/v1/payments/" + created.ID, token: token}
	var state string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var got struct {
			State string `json:"state"`
		}
		if resp, raw := get.do(&got); resp.StatusCode != http.StatusOK {
			t.Fatalf("get payment = %d %s", resp.StatusCode, raw)
		}
		if state = got.State; state == "succeeded" || time.Now().After(deadline) {
			break
		}
	}
	if state != "succeeded" {
		t.Errorf("payment state = %q; want succeeded", state)
	}
}
