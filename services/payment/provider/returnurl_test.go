package provider

import (
	"strings"
	"testing"
)

func TestParseReturnURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, origin string // origin "" means refused
		reason     string // part of the refusal
	}{
		{"https://ministry.example/return", "https://ministry.example", ""},
		{"https://Ministry.EXAMPLE:8443/r?x=1#f", "https://ministry.example:8443", ""},
		{"https://xn--mgbaam7a8h.ps/دفع", "https://xn--mgbaam7a8h.ps", ""},
		{"https://192.0.2.10/r", "https://192.0.2.10", ""},
		{"https://[2001:DB8::1]:8443/r", "https://[2001:db8::1]:8443", ""},
		{"http://localhost:3000/done", "http://localhost:3000", ""},
		{"http://127.0.0.1:3000/done", "http://127.0.0.1:3000", ""},
		{"http://[::1]/done", "http://[::1]", ""},

		{"", "", "required"},
		{"/r", "", "https"},
		{"http://ministry.example/r", "", "https"},
		{"ftp://ministry.example/r", "", "https"},
		{"https:ministry.example", "", "https"},
		{"https://user:pw@ministry.example/r", "", "https URL without credentials"},
		{"https://ministry.example@evil.example/r", "", "without credentials"},
		{"https://a.example;script-src'*'/r", "", "host must be a DNS name"},
		{"https://a.example;/r", "", "host must be a DNS name"},
		{"https://a.example'/r", "", "host must be a DNS name"},
		{`https://a"b.example/r`, "", "host must be a DNS name"},
		{"https://*.example/r", "", "host must be a DNS name"},
		{"https://a_b.example/r", "", "host must be a DNS name"},
		{"https://-a.example/r", "", "host must be a DNS name"},
		{"https://a..example/r", "", "host must be a DNS name"},
		{"https://a.example./r", "", "host must be a DNS name"},
		{"https://" + strings.Repeat("a", 64) + ".example/r", "", "host must be a DNS name"},
		{"https://" + strings.Repeat("a.", 127) + "ps/r", "", "host must be a DNS name"},
		{"https://وزارة.ps/r", "", "host must be a DNS name"},
		{"https://1.2.3/r", "", "host must be a DNS name"},
		{"https://127.000.0.1/r", "", "host must be a DNS name"},
		{"https://[fe80::1%25eth0]/r", "", "host must be a DNS name"},
		{"https://[1.2.3.4]/r", "", "not a valid URL"},
		{"https://a.example:0/r", "", "port"},
		{"https://a.example:99999/r", "", "port"},
		{"https://a.example:/r", "", "port"},
		{"https://a.example/a b", "", "spaces"},
		{"https://a.example /r", "", "spaces"},
		{"https://a.example/\x00", "", "control"},
		{"https://a.example/r\tx", "", "control"},
		{"https://a.example/\u202Egpj", "", "U+202E"},
		{"https://a.example/pay\u200B", "", "U+200B"},
		{"https://a.example/" + strings.Repeat("a", 2048), "", "2048"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, reason := ParseReturnURL(tc.in)
			if tc.origin != "" {
				if reason != "" || got.Origin != tc.origin {
					t.Fatalf("ParseReturnURL(%q) = %q, %q; want origin %q", tc.in, got.Origin, reason, tc.origin)
				}
				return
			}
			if reason == "" || !strings.Contains(reason, tc.reason) {
				t.Fatalf("ParseReturnURL(%q) = %q, %q; want a refusal containing %q", tc.in, got.Origin, reason, tc.reason)
			}
			if ReturnOrigin(tc.in) != "" {
				t.Fatalf("ReturnOrigin(%q) is not empty for a refused URL", tc.in)
			}
		})
	}
}

// FuzzReturnOrigin: whatever the input, an accepted origin holds only
// what a CSP source expression may: scheme, "://", LDH or IP characters,
// brackets and a port — never ';', ',', quotes, '*' or spaces.
func FuzzReturnOrigin(f *testing.F) {
	for _, s := range []string{"https://a.example/r", "https://a.example;script-src'*'/", "https://[::1]:1/", "http://localhost/", "https://%41.example/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o := ReturnOrigin(s)
		if o == "" {
			return
		}
		rest, ok := strings.CutPrefix(o, "https://")
		if !ok {
			rest, ok = strings.CutPrefix(o, "http://")
		}
		if !ok || rest == "" || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" {
			t.Fatalf("ReturnOrigin(%q) = %q", s, o)
		}
	})
}
