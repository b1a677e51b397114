package payment

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestCreateRefusesHiddenCharacters: a description, reference or receipt
// e-mail address with a bidi override, a zero-width space, an isolate or
// NUL is refused naming the field and the character; so is a refund
// reason; nothing is stored.
func TestCreateRefusesHiddenCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	for _, hc := range []struct{ r, code string }{{"\u202E", "U+202E"}, {"\u200B", "U+200B"}, {"\u2066", "U+2066"}, {"\x00", "U+0000"}} {
		for _, tc := range []struct {
			field string
			edit  func(*CreateInput)
		}{
			{"description", func(in *CreateInput) { in.Description = "رسوم تسجيل" + hc.r + " أرض" }},
			{"reference", func(in *CreateInput) { in.Reference = "INV-2026" + hc.r + "-17" }},
			{"receipt.email_address", func(in *CreateInput) { in.Receipt.EmailAddress = "lay" + hc.r + "la@example.ps" }},
		} {
			t.Run(tc.field+" "+hc.code, func(t *testing.T) {
				in := fee("R-" + hc.code)
				tc.edit(&in)
				_, err := h.svc.CreatePayment(ctx, ministryA, in)
				vs := rpcerr.FieldViolations(rpcerr.FromDomain(err, nil, ctx))
				if len(vs) != 1 || vs[0].Field != tc.field || !strings.Contains(vs[0].Reason, hc.code) {
					t.Fatalf("violations %+v; want one on %s naming %s", vs, tc.field, hc.code)
				}
			})
		}
	}
	if n := h.count(`SELECT COUNT(*) FROM payments`); n != 0 {
		t.Fatalf("%d payments stored from refused requests; want 0", n)
	}
	// Arabic with harakat and tatweel, a direction mark and emoji are text.
	in := fee("R-ok")
	in.Description = "رُسُومُ تَسْجِيـــلِ أرض\u200f ✅"
	p := h.pay(in)
	_, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 100, "duplicate\u202E payment", "")
	vs := rpcerr.FieldViolations(rpcerr.FromDomain(err, nil, ctx))
	if len(vs) != 1 || vs[0].Field != "reason" || !strings.Contains(vs[0].Reason, "U+202E") {
		t.Fatalf("refund with an override: violations %+v; want one on reason naming U+202E", vs)
	}
	if n := h.count(`SELECT COUNT(*) FROM refunds`); n != 0 {
		t.Fatalf("%d refunds stored; want 0", n)
	}
}

// TestReturnURLRefused: a return_url whose host is not a DNS name or an
// IP literal (a ';' or a quote would end up in the checkout page's CSP),
// or that carries credentials, spaces or hidden characters, is refused at
// creation naming return_url; nothing is stored.
func TestReturnURLRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	for _, u := range []string{
		"https://ministry.example;script-src'*'/done",
		"https://ministry.example;/done",
		"https://ministry.example'/done",
		`https://ministry"example/done`,
		"https://*.example/done",
		"https://user:secret@ministry.example/done",
		"https://ministry.example@evil.example/done",
		"https://minis_try.example/done",
		"https://ministry.example/do ne",
		"https://ministry.example/\u202Eenod",
		"https://وزارة.ps/done",
		"https://ministry.example:99999/done",
	} {
		t.Run(u, func(t *testing.T) {
			in := fee("R")
			in.ReturnURL = u
			_, err := h.svc.CreatePayment(ctx, ministryA, in)
			vs := rpcerr.FieldViolations(rpcerr.FromDomain(err, nil, ctx))
			if len(vs) != 1 || vs[0].Field != "return_url" {
				t.Fatalf("violations %+v; want one on return_url", vs)
			}
		})
	}
	if n := h.count(`SELECT COUNT(*) FROM payments`); n != 0 {
		t.Fatalf("%d payments stored; want 0", n)
	}
}

// TestCheckoutCSPNamesTheOrigin: the checkout page's CSP form-action is
// the return URL's origin as re-serialised (scheme, lower-case host,
// port), not the caller's string.
func TestCheckoutCSPNamesTheOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), nil)
	in := fee("R")
	in.ReturnURL = "https://Pay.Ministry.EXAMPLE:8443/done?case=7#top"
	p := h.create(in)
	rec := httptest.NewRecorder()
	h.svc.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, strings.TrimPrefix(p.NextURL, testPublicURL), nil))
	if rec.Code != http.StatusOK {
		body, _ := io.ReadAll(rec.Body)
		t.Fatalf("checkout page: %d %s", rec.Code, body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	want := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https://pay.ministry.example:8443; frame-ancestors 'none'; base-uri 'none'"
	if csp != want {
		t.Fatalf("CSP %q;\nwant %q", csp, want)
	}
}
