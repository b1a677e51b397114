package gateway_test

import (
	"net/http"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
)

// TestProblemsInArabic: Accept-Language ar gives the Arabic texts of the
// catalogue for the detail and every catalogued violation, the enabler's
// English for a code the catalogue does not know, and the same codes as
// English; English keeps the enabler's own texts.
func TestProblemsInArabic(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{})
	get := func(lang string) (*http.Response, []byte) {
		hdr := map[string]string{}
		if lang != "" {
			hdr["Accept-Language"] = lang
		}
		return s.do(t, http.MethodGet, "/v1/content/items/national-id", nil, hdr)
	}
	resp, body := get("ar-PS,ar;q=0.9,en;q=0.5")
	ar := problem(t, resp, body)
	if got := resp.Header.Get("Content-Language"); got != "ar" {
		t.Errorf("Content-Language = %q; want ar", got)
	}
	if ar.Code != "invalid-argument" {
		t.Errorf("code = %q; want invalid-argument", ar.Code)
	}
	wantDetail := "طلب غير صالح: national_id: رقم التحقق غير مطابق: يرجى التأكد من رقم الهوية؛ given_name: يجب ألا يتجاوز 100 حرفاً؛ note: a refusal the catalogue does not know"
	if ar.Detail != wantDetail {
		t.Errorf("detail = %q;\nwant %q", ar.Detail, wantDetail)
	}
	wantAr := []FieldErrorView{
		{"national_id", "national_id.check_digit", "رقم التحقق غير مطابق: يرجى التأكد من رقم الهوية"},
		{"given_name", "given_name.too_long", "يجب ألا يتجاوز 100 حرفاً"},
		{"note", "note.uncatalogued", "a refusal the catalogue does not know"},
	}
	checkViolations(t, "ar", ar.Errors, wantAr)

	for _, lang := range []string{"", "en", "ar;q=0.4, en", "fr"} {
		resp, body := get(lang)
		en := problem(t, resp, body)
		if got := resp.Header.Get("Content-Language"); got != "en" {
			t.Errorf("Accept-Language %q: Content-Language = %q; want en", lang, got)
		}
		if en.Code != ar.Code {
			t.Errorf("Accept-Language %q: code = %q; want %q as in Arabic", lang, en.Code, ar.Code)
		}
		checkViolations(t, lang, en.Errors, []FieldErrorView{
			{"national_id", "national_id.check_digit", "check digit does not match: please re-check the number"},
			{"given_name", "given_name.too_long", "must be at most 100 characters"},
			{"note", "note.uncatalogued", "a refusal the catalogue does not know"},
		})
	}

	// A problem the gateway makes itself, and one without violations.
	resp, body = s.do(t, http.MethodGet, "/v1/nope", nil, map[string]string{"Accept-Language": "ar"})
	if p := problem(t, resp, body); p.Code != "route-not-found" || p.Detail != "لا يوجد مسار يطابق الطلب" {
		t.Errorf("route not found in Arabic = %q %q", p.Code, p.Detail)
	}
	resp, body = s.do(t, http.MethodGet, "/v1/nope", nil, nil)
	if p := problem(t, resp, body); p.Code != "route-not-found" || p.Detail != "no route matches GET /v1/nope" {
		t.Errorf("route not found in English = %q %q", p.Code, p.Detail)
	}
}

// FieldErrorView is what a caller reads of a violation.
type FieldErrorView struct{ Field, Code, Reason string }

func checkViolations(t *testing.T, lang string, got []gateway.FieldError, want []FieldErrorView) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Accept-Language %q: errors = %+v; want %+v", lang, got, want)
	}
	for i, w := range want {
		if g := got[i]; g.Field != w.Field || g.Code != w.Code || g.Reason != w.Reason {
			t.Errorf("Accept-Language %q: errors[%d] = %+v; want %+v", lang, i, g, w)
		}
	}
}
