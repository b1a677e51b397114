package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"ok.json":    {Data: []byte(`{"ar": {"hi": "مرحبا"}, "en": {"hi": "Hello"}}`)},
		"bad.json":   {Data: []byte(`{"ar": `)},
		"empty.json": {Data: []byte(`{}`)},
	}
	got := Load[map[string]string](fsys, "ok.json")
	if got["ar"]["hi"] != "مرحبا" || got["en"]["hi"] != "Hello" {
		t.Fatalf("Load = %v", got)
	}
	for name, want := range map[string]string{"bad.json": "bad.json", "empty.json": "no language", "absent.json": "absent.json"} {
		if _, err := load[map[string]string](fsys, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("load(%s) = %v; want an error naming %q", name, err, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Load of a broken file did not panic")
		}
	}()
	Load[map[string]string](fsys, "bad.json")
}

func TestASCIIDigits(t *testing.T) {
	for in, want := range map[string]string{
		"٠١٢٣٤٥٦٧٨٩":               "0123456789",
		"۰۱۲۳۴۵۶۷۸۹":               "0123456789",
		"٠٥٩٩ 123-۴۵۶":             "0599 123-456",
		"abc٣ ٪ ١٠٠ ۹":             "abc3 ٪ 100 9",
		"":                         "",
		"\u065f\u0669\u066a":       "\u065f9\u066a", // the runes either side of ٠–٩ stay
		"\u06ef\u06f0\u06f9\u06fa": "\u06ef09\u06fa",
	} {
		if got := ASCIIDigits(in); got != want {
			t.Errorf("ASCIIDigits(%q) = %q; want %q", in, got, want)
		}
	}
	if d, ok := ASCIIDigit('7'); d != '7' || ok {
		t.Errorf("ASCIIDigit('7') = %q, %v; want '7', false (already ASCII)", d, ok)
	}
}
