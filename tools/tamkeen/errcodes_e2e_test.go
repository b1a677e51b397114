package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// TestEnablerErrorCodesInArabicEndToEnd: through `tamkeen dev`, one
// validation failure of each enabler, asked for with Accept-Language ar
// and en, has the same problem code and violation code in both; the
// Arabic reason and detail are written in Arabic letters and keep the
// numbers of the rule (a limit, a length), and the English ones are the
// enabler's own, without Arabic.
func TestEnablerErrorCodesInArabicEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev")
	}
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), appEnv)
	token := clientToken(t, base, appSecret)
	for _, tc := range []struct {
		enabler, method, path string
		body                  any
		anonymous             bool
		field, code           string
		numbers               []string // in the reason in both languages
	}{
		{enabler: "auth", method: http.MethodPost, path: "/v1/citizens", anonymous: true, body: map[string]string{
			"national_id": nationalID("40123456"), "phone_number": "0599123456", "password": "kurz1",
			"given_name": "ليلى", "family_name": "Haddad",
		}, field: "password", code: "password.length", numbers: []string{"8", "128"}},
		{enabler: "content", method: http.MethodGet, path: "/v1/public/search?lang=ar&q=" + url.QueryEscape("a1 b2 c3 d4 e5 f6 g7 h8 i9"),
			anonymous: true, field: "q", code: "q.too_many_words", numbers: []string{"8"}},
		{enabler: "notification", method: http.MethodPost, path: "/v1/templates", body: map[string]string{
			"name": strings.Repeat("n", 201), "channel": "sms", "language": "ar", "body": "مرحباً ((name))",
		}, field: "name", code: "name.too_long", numbers: []string{"200"}},
		{enabler: "payment", method: http.MethodGet, path: "/v1/payments?page_size=500",
			field: "page_size", code: "page_size.range", numbers: []string{"200"}},
		{enabler: "signature", method: http.MethodPost, path: "/v1/signatures:verify", body: map[string]string{
			"signature": "MA==", "format": "xades",
		}, field: "format", code: "format.unsupported"},
	} {
		t.Run(tc.enabler, func(t *testing.T) {
			var got [2]problemView
			for i, lang := range []string{"ar", "en"} {
				var body io.Reader
				if tc.body != nil {
					b, _ := json.Marshal(tc.body)
					body = bytes.NewReader(b)
				}
				req, err := http.NewRequest(tc.method, base+tc.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept-Language", lang)
				if !tc.anonymous {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Language") != lang {
					t.Fatalf("%s: %s %s = %d (Content-Language %q) %s; want 400 in %s", lang, tc.method, tc.path,
						resp.StatusCode, resp.Header.Get("Content-Language"), raw, lang)
				}
				if err := json.Unmarshal(raw, &got[i]); err != nil {
					t.Fatalf("%s: %v: %s", lang, err, raw)
				}
				p := got[i]
				if p.Code != "invalid-argument" || len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Code != tc.code {
					t.Fatalf("%s: problem = %s; want invalid-argument with one %s violation of %s", lang, raw, tc.code, tc.field)
				}
				reason := p.Errors[0].Reason
				arabic := strings.ContainsFunc(reason, isArabicLetter) && strings.ContainsFunc(p.Detail, isArabicLetter)
				if lang == "ar" && !arabic {
					t.Errorf("ar: reason %q, detail %q: want Arabic letters in both", reason, p.Detail)
				}
				if lang == "en" && (strings.ContainsFunc(reason, isArabicLetter) || reason == "") {
					t.Errorf("en: reason %q; want the enabler's English", reason)
				}
				for _, n := range tc.numbers {
					if !strings.Contains(reason, n) {
						t.Errorf("%s: reason %q lacks the rule's number %s", lang, reason, n)
					}
				}
			}
			if got[0].Errors[0].Reason == got[1].Errors[0].Reason {
				t.Errorf("the Arabic and English reasons are the same: %q", got[0].Errors[0].Reason)
			}
		})
	}
}

// isArabicLetter reports a letter of the Arabic block.
func isArabicLetter(r rune) bool { return r >= 0x0621 && r <= 0x064A }
