package notification

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	t.Parallel()
	values := map[string]string{"code": "123456", "name": "سلمى", "tricky": "((code))"}
	tests := []struct {
		name    string
		body    string
		want    string
		missing string
	}{
		{"no placeholders", "Hello", "Hello", ""},
		{"one", "Code: ((code)).", "Code: 123456.", ""},
		{"spaces around the name", "Code: (( code ))", "Code: 123456", ""},
		{"twice", "((code)) ((code))", "123456 123456", ""},
		{"arabic", "مرحباً ((name))، رمزك ((code))", "مرحباً سلمى، رمزك 123456", ""},
		{"value is not rendered again", "x ((tricky)) y", "x ((code)) y", ""},
		{"triple parentheses keep one", "(((code)))", "(123456)", ""},
		{"unterminated is text", "a ((code b", "a ((code b", ""},
		{"empty name is text", "a (()) b", "a (()) b", ""},
		{"newline inside is text", "a ((co\nde)) b", "a ((co\nde)) b", ""},
		{"parenthesis inside is text", "a ((co(de)) b", "a ((co(de)) b", ""},
		{"missing", "Dear ((first name)), ((code))", "", "first name"},
		{"first missing named", "((a)) ((b))", "", "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.body, values)
			if tc.missing != "" {
				var mp *MissingPlaceholderError
				if !errors.As(err, &mp) || mp.Name != tc.missing {
					t.Fatalf("Render err = %v; want missing ((%s))", err, tc.missing)
				}
				if !strings.Contains(err.Error(), "(("+tc.missing+"))") {
					t.Fatalf("error %q does not name the placeholder", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want []string
	}{
		{"none", nil},
		{"((b)) ((a)) ((b)) (( a ))", []string{"b", "a"}},
		{"(()) ((x", nil},
	}
	for _, tc := range tests {
		if got := Placeholders(tc.body); !slices.Equal(got, tc.want) {
			t.Errorf("Placeholders(%q) = %q; want %q", tc.body, got, tc.want)
		}
	}
}

// The OTP templates fit one SMS for codes up to ten digits and never keep
// the code in the stored copy.
func TestBuiltinOTPTemplates(t *testing.T) {
	t.Parallel()
	want := map[string]Encoding{LangArabic: UCS2, LangEnglish: GSM7}
	set := newTemplateSet(BuiltinTemplates())
	for lang, enc := range want {
		tpl, err := set.find(OTPTemplateID, ChannelSMS, lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := Placeholders(tpl.Body); !slices.Equal(got, []string{"code"}) || !slices.Equal(tpl.Secrets, []string{"code"}) {
			t.Errorf("%s: placeholders %q secrets %q; want code, secret", lang, got, tpl.Secrets)
		}
		for _, code := range []string{"1234", "123456", "1234567890"} {
			send, stored, err := renderSMS(tpl, map[string]string{"code": code})
			if err != nil {
				t.Fatal(err)
			}
			if l := MeasureSMS(send); l.Encoding != enc || l.Segments != 1 {
				t.Errorf("%s with a %d-digit code: %+v; want %s in 1 segment", lang, len(code), l, enc)
			}
			if !strings.Contains(send, code) {
				t.Errorf("%s: sent text %q lacks the code", lang, send)
			}
			if strings.Contains(stored, code) || !strings.Contains(stored, redactedValue) {
				t.Errorf("%s: stored text %q keeps the code or lacks the redaction", lang, stored)
			}
		}
	}
	if _, err := set.find(OTPTemplateID, ChannelSMS, "fr"); !errors.Is(err, ErrTemplateNotFound) {
		t.Errorf("find fr = %v; want ErrTemplateNotFound", err)
	}
}

// The registration-attempt notice fits one SMS in both languages and has
// nothing to personalise.
func TestBuiltinRegistrationAttemptTemplates(t *testing.T) {
	t.Parallel()
	set := newTemplateSet(BuiltinTemplates())
	for lang, enc := range map[string]Encoding{LangArabic: UCS2, LangEnglish: GSM7} {
		tpl, err := set.find(RegistrationAttemptTemplateID, ChannelSMS, lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := Placeholders(tpl.Body); len(got) != 0 {
			t.Errorf("%s: placeholders %q; want none", lang, got)
		}
		send, _, err := renderSMS(tpl, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l := MeasureSMS(send); l.Encoding != enc || l.Segments != 1 {
			t.Errorf("%s: %+v; want %s in 1 segment", lang, l, enc)
		}
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "((a))", "(((a)))", "((a", "a))((b))", "(( ))", "((\n))", "رمز ((code))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		names := Placeholders(body)
		values := map[string]string{}
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, "()\n") {
				t.Fatalf("Placeholders returned the impossible name %q", n)
			}
			values[n] = "v"
		}
		if _, err := Render(body, values); err != nil {
			t.Fatalf("Render with every placeholder given: %v", err)
		}
		if !strings.Contains(body, "((") {
			if got, err := Render(body, nil); got != body || err != nil {
				t.Fatalf("Render of text without (( = %q, %v; want it unchanged", got, err)
			}
		}
		if len(names) > 0 {
			var mp *MissingPlaceholderError
			if _, err := Render(body, nil); !errors.As(err, &mp) || mp.Name != names[0] {
				t.Fatalf("Render without values: %v; want missing ((%s))", err, names[0])
			}
		}
	})
}
