package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

func newAcquirer(t *testing.T) (*Acquirer, *[][]byte) {
	t.Helper()
	db := storetest.SQLite(t)
	set, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a, err := New(db, Config{Secret: []byte("0123456789abcdef0123"), PublicURL: "https://gw.example/", Now: func() time.Time { return now },
		Deliver: func(_ context.Context, p []byte, _ string) error { sent = append(sent, p); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return a, &sent
}

func TestCheckoutPage(t *testing.T) {
	a, sent := newAcquirer(t)
	ctx := context.Background()
	ch, err := a.CreateCharge(ctx, provider.ChargeRequest{PaymentID: "pay_1", Amount: 100000, Currency: "JOD",
		Description: "رسوم تسجيل أرض", ReturnURL: "https://ministry.example/done", ExpireAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := a.CreateCharge(ctx, provider.ChargeRequest{PaymentID: "pay_1", Amount: 100000, Currency: "JOD"})
	if again.Ref != ch.Ref || ch.NextURL != "https://gw.example/sandbox/checkout/"+ch.Ref {
		t.Fatalf("charges %+v and %+v; want one charge with a checkout URL under the public URL", ch, again)
	}
	path := "/sandbox/checkout/" + ch.Ref
	for _, tc := range []struct {
		name, lang, acceptLang string
		has                    []string
	}{
		{"arabic by default", "", "", []string{`lang="ar" dir="rtl"`, "100.000 دينار أردني", "رقم البطاقة", "رسوم تسجيل أرض", `href="/sandbox/checkout/` + ch.Ref + `?lang=en"`}},
		{"english by header", "", "en-GB,en;q=0.9", []string{`lang="en" dir="ltr"`, "100.000 JOD", "Card number"}},
		{"english by query", "en", "ar", []string{`lang="en" dir="ltr"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := path
			if tc.lang != "" {
				target += "?lang=" + tc.lang
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			if tc.acceptLang != "" {
				req.Header.Set("Accept-Language", tc.acceptLang)
			}
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			for _, want := range tc.has {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			// Self-contained: no scripts, no outside resources.
			for _, bad := range []string{"<script", "http://", "https://", "<link", "@import"} {
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' https://ministry.example") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
	// Bad input re-renders with every problem named and nothing changed.
	form := url.Values{"card_number": {"4242 4242 4242 4241"}, "expiry": {"01/20"}, "cvc": {"1"}, "lang": {"en"}}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad card: %d", rec.Code)
	}
	for _, want := range []string{"Enter the 16-digit card number", "expiry date in the future", "security code", `aria-invalid="true"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	if strings.Contains(rec.Body.String(), `name="cvc" inputmode="numeric" autocomplete="cc-csc" value="1"`) {
		t.Error("the CVC was echoed back")
	}
	if st, _ := a.ChargeStatus(ctx, ch.Ref); st != provider.StatusOpen || len(*sent) != 0 {
		t.Errorf("bad input changed the charge to %s or sent %d webhooks", st, len(*sent))
	}
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/checkout/ch_nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown charge: %d", rec.Code)
	}
}

func TestSettlementCSVEndpoint(t *testing.T) {
	a, sent := newAcquirer(t)
	ctx := context.Background()
	ch, _ := a.CreateCharge(ctx, provider.ChargeRequest{PaymentID: "pay_1", Amount: 2550, Currency: "ILS", ReturnURL: "https://m.example/r",
		ExpireAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)})
	form := url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}
	req := httptest.NewRequest(http.MethodPost, "/sandbox/checkout/"+ch.Ref, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "https://m.example/r?payment_id=pay_1" {
		t.Fatalf("pay: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if len(*sent) != 1 || !strings.Contains(string((*sent)[0]), `"type":"charge.succeeded"`) {
		t.Fatalf("webhooks %q", *sent)
	}
	if _, err := a.Refund(ctx, provider.RefundRequest{RefundID: "rfd_1", ChargeRef: ch.Ref, Amount: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Refund(ctx, provider.RefundRequest{RefundID: "rfd_2", ChargeRef: ch.Ref, Amount: 2501}); err == nil {
		t.Error("a refund beyond the charge was accepted")
	}
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/settlements/2026-03-01.csv", nil))
	lines, err := provider.ParseSettlementCSV(rec.Body)
	if err != nil || len(lines) != 2 || lines[0].Amount != 2550 || lines[1].Amount != -50 {
		t.Fatalf("settlement CSV %+v, %v", lines, err)
	}
}

// TestCheckoutCSPCannotBeInjected: the CSP is built from the return URL's
// parsed and re-serialised origin. A return URL that the payment enabler
// refuses today but a charge may still carry (one stored before the check,
// or an acquirer called directly) adds nothing to the policy: no directive
// of its own, no quote, no wildcard.
func TestCheckoutCSPCannotBeInjected(t *testing.T) {
	a, _ := newAcquirer(t)
	ctx := context.Background()
	const base = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	for i, tc := range []struct{ returnURL, want string }{
		{"https://a.example;script-src'*'/done", base},
		{"https://a.example';script-src'unsafe-inline'/done", base},
		{`https://a"b.example/done`, base},
		{"https://*/done", base},
		{"https://user@a.example/done", base},
		{"javascript:alert(1)", base},
		{"https://A.Example:8443/done?x=1", strings.Replace(base, "form-action 'self'", "form-action 'self' https://a.example:8443", 1)},
	} {
		t.Run(tc.returnURL, func(t *testing.T) {
			ch, err := a.CreateCharge(ctx, provider.ChargeRequest{PaymentID: "pay_" + strconv.Itoa(i), Amount: 100, Currency: "ILS",
				ReturnURL: tc.returnURL, ExpireAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/checkout/"+ch.Ref, nil))
			if csp := rec.Header().Get("Content-Security-Policy"); csp != tc.want {
				t.Fatalf("CSP %q;\nwant %q", csp, tc.want)
			}
		})
	}
}
