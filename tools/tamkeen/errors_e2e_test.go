package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// problemView is what a ministry app reads of a problem+json answer.
type problemView struct {
	Type   string `json:"type"`
	Code   string `json:"code"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// TestErrorsInArabicEndToEnd: through `tamkeen dev`, a registration with a
// national ID whose check digit is wrong and a landline for a phone gets,
// with Accept-Language: ar, an Arabic detail and Arabic reasons, with the
// same problem code and violation codes as in English; a problem the
// gateway makes itself (no token) has its type's code in both languages.
func TestErrorsInArabicEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev")
	}
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), appEnv)
	send := func(method, path, lang string, body any) (*http.Response, problemView, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var p problemView
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s %s: not JSON: %v: %s", method, path, err, raw)
		}
		return resp, p, raw
	}
	reg := map[string]string{
		"national_id": "123456789", "phone_number": "022951234", "password": "zaytoun-tree-1948",
		"given_name": "ليلى", "family_name": "Haddad",
	}
	type violation struct{ field, code, reason string }
	want := map[string]struct {
		detail     string
		violations []violation
	}{
		"ar": {
			detail: "طلب غير صالح: national_id: رقم التحقق غير مطابق: يرجى التأكد من رقم الهوية؛ " +
				"phone_number: ليس رقم هاتف محمول: اكتب رقم المحمول بالصيغة 05XXXXXXXX أو بالصيغة الدولية، مثل +970599123456",
			violations: []violation{
				{"national_id", "national_id.check_digit", "رقم التحقق غير مطابق: يرجى التأكد من رقم الهوية"},
				{"phone_number", "phone_number.not_mobile", "ليس رقم هاتف محمول: اكتب رقم المحمول بالصيغة 05XXXXXXXX أو بالصيغة الدولية، مثل +970599123456"},
			},
		},
		"en": {
			detail: "invalid argument: national_id: check digit does not match: please re-check the number; " +
				"phone_number: is not a mobile number: a local number is a mobile of 10 digits starting 05 (e.g. 0599123456); give any other in international format, e.g. +970599123456",
			violations: []violation{
				{"national_id", "national_id.check_digit", "check digit does not match: please re-check the number"},
				{"phone_number", "phone_number.not_mobile", "is not a mobile number: a local number is a mobile of 10 digits starting 05 (e.g. 0599123456); give any other in international format, e.g. +970599123456"},
			},
		},
	}
	for _, lang := range []string{"ar", "en"} {
		resp, p, raw := send(http.MethodPost, "/v1/citizens", lang, reg)
		if resp.StatusCode != http.StatusBadRequest || p.Code != "invalid-argument" || p.Type != "urn:tamkeen:problem:invalid-argument" {
			t.Fatalf("%s: register = %d %s; want 400 invalid-argument", lang, resp.StatusCode, raw)
		}
		if got := resp.Header.Get("Content-Language"); got != lang {
			t.Errorf("%s: Content-Language = %q", lang, got)
		}
		w := want[lang]
		if p.Detail != w.detail {
			t.Errorf("%s: detail = %q;\nwant %q", lang, p.Detail, w.detail)
		}
		if len(p.Errors) != len(w.violations) {
			t.Fatalf("%s: errors = %s; want %v", lang, raw, w.violations)
		}
		for i, v := range w.violations {
			if e := p.Errors[i]; e.Field != v.field || e.Code != v.code || e.Reason != v.reason {
				t.Errorf("%s: errors[%d] = %+v; want %+v", lang, i, e, v)
			}
		}
	}

	for lang, detail := range map[string]string{"ar": "رمز الوصول مطلوب", "en": ""} {
		resp, p, raw := send(http.MethodGet, "/v1/payments", lang, nil)
		if resp.StatusCode != http.StatusUnauthorized || p.Code != "missing-token" || p.Type != "urn:tamkeen:problem:missing-token" {
			t.Fatalf("%s: no token = %d %s; want 401 missing-token", lang, resp.StatusCode, raw)
		}
		if detail != "" && p.Detail != detail {
			t.Errorf("%s: detail = %q; want %q", lang, p.Detail, detail)
		}
		if lang == "en" && (p.Detail == "" || p.Detail == want["ar"].detail) {
			t.Errorf("en: detail = %q; want the gateway's English", p.Detail)
		}
	}
}
