package auth

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/scope"
)

func TestNormalizeNationalID(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in, want string
		reason   string // substring of the field error; "" means valid
		code     string
	}{
		// 1+4+3+8+5+(1+2)+7+(1+6)+2 = 40.
		"valid":                  {in: "123456782", want: "123456782"},
		"valid, leading zeros":   {in: "000000018", want: "000000018"},
		"valid, spaces around":   {in: "  123456782 ", want: "123456782"},
		"valid, Arabic digits":   {in: "١٢٣٤٥٦٧٨٢", want: "123456782"},
		"valid, Persian digits":  {in: "۱۲۳۴۵۶۷۸۲", want: "123456782"},
		"valid, doubled 9 digit": {in: "999999998", want: "999999998"},
		"wrong check digit":      {in: "123456789", reason: "check digit", code: "national_id.check_digit"},
		"one digit changed":      {in: "123456772", reason: "check digit", code: "national_id.check_digit"},
		"two digits swapped":     {in: "213456782", reason: "check digit", code: "national_id.check_digit"},
		"all zeros":              {in: "000000000", reason: "check digit", code: "national_id.check_digit"},
		"eight digits":           {in: "12345678", reason: "9 digits", code: "national_id.length"},
		"ten digits":             {in: "1234567820", reason: "9 digits", code: "national_id.length"},
		"letters":                {in: "12345678a", reason: "9 digits", code: "national_id.digits"},
		"inner space":            {in: "1234 6782", reason: "9 digits", code: "national_id.digits"},
		"empty":                  {in: "", reason: "9 digits", code: "national_id.length"},
	} {
		t.Run(name, func(t *testing.T) {
			got, fe := NormalizeNationalID(tc.in)
			if tc.reason == "" {
				if fe != nil || got != tc.want {
					t.Fatalf("NormalizeNationalID(%q) = %q, %v; want %q", tc.in, got, fe, tc.want)
				}
				return
			}
			if fe == nil || fe.Field != "national_id" || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("NormalizeNationalID(%q) = %q, %v; want a national_id error about %q", tc.in, got, fe, tc.reason)
			}
			if fe.Code != tc.code {
				t.Errorf("NormalizeNationalID(%q) code = %q; want %q", tc.in, fe.Code, tc.code)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in, want string
		bad      bool
	}{
		"Jawwal +970 59":         {in: "+970599123456", want: "+970599123456"},
		"Ooredoo +970 56":        {in: "+970 56-912-3456", want: "+970569123456"},
		"00 prefix":              {in: "00970599123456", want: "+970599123456"},
		"Arabic digits":          {in: "+٩٧٠٥٩٩١٢٣٤٥٦", want: "+970599123456"},
		"+972 mobile":            {in: "+972 52 123 4567", want: "+972521234567"},
		"+972 Jawwal":            {in: "+972599123456", want: "+972599123456"},
		"Jordan (diaspora)":      {in: "+962 79 123 4567", want: "+962791234567"},
		"USA (diaspora)":         {in: "+1 (202) 555-0143", want: "+12025550143"},
		"Chile (diaspora)":       {in: "+56 9 6123 4567", want: "+56961234567"},
		"local Jawwal":           {in: "0599123456", want: "+970599123456"},
		"local Ooredoo":          {in: "056 912 3456", want: "+970569123456"},
		"local Israeli":          {in: "052-123-4567", want: "+972521234567"},
		"local landline":         {in: "022951234", bad: true},
		"+970 landline":          {in: "+97022987654", bad: true},
		"+970 other prefix":      {in: "+970529123456", bad: true},
		"+970 too short":         {in: "+97059912345", bad: true},
		"+972 landline":          {in: "+97221234567", bad: true},
		"+972 too long":          {in: "+9725212345678", bad: true},
		"too short":              {in: "+1234567", bad: true},
		"too long":               {in: "+1234567890123456", bad: true},
		"country code 0":         {in: "+0599123456", bad: true},
		"letters":                {in: "+97059912345a", bad: true},
		"plus only":              {in: "+", bad: true},
		"empty":                  {in: "", bad: true},
		"two plus signs":         {in: "++970599123456", bad: true},
		"extension not accepted": {in: "+12025550143;ext=1", bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, fe := NormalizePhone(tc.in)
			if tc.bad {
				if fe == nil || fe.Field != "phone_number" {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want a phone_number error", tc.in, got, fe)
				}
				return
			}
			if fe != nil || got != tc.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, fe, tc.want)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in, want string
		bad      bool
	}{
		"Arabic":                   {in: "محمد", want: "محمد"},
		"Arabic with harakat":      {in: "مُحَمَّد", want: "مُحَمَّد"},
		"Arabic compound":          {in: "عبد  الرحمن", want: "عبد الرحمن"},
		"Latin":                    {in: "Layla", want: "Layla"},
		"Latin hyphen apostrophe":  {in: "Abu-Ali O'Neil", want: "Abu-Ali O'Neil"},
		"Latin accents NFC":        {in: "Jose\u0301", want: "Jos\u00e9"},
		"typographic apostrophe":   {in: "D’Souza", want: "D’Souza"},
		"mixed scripts":            {in: "Layla ليلى", want: "Layla ليلى"},
		"digits":                   {in: "Layla2", bad: true},
		"Arabic-Indic digit":       {in: "ليلى٢", bad: true},
		"starts with hyphen":       {in: "-Layla", bad: true},
		"Cyrillic":                 {in: "Лейла", bad: true},
		"Hebrew":                   {in: "לילה", bad: true},
		"emoji":                    {in: "Layla 🙂", bad: true},
		"HTML":                     {in: "<b>Layla</b>", bad: true},
		"empty":                    {in: "   ", bad: true},
		"too long":                 {in: strings.Repeat("a", 101), bad: true},
		"control character":        {in: "Lay\x00la", bad: true},
		"zero-width joiner inside": {in: "Lay\u200dla", bad: true},
		"tab inside":               {in: "Layla\tHassan", bad: true},
		"line separator inside":    {in: "Layla\u2028Hassan", bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, fe := NormalizeName("given_name", tc.in)
			if tc.bad {
				if fe == nil || fe.Field != "given_name" {
					t.Fatalf("NormalizeName(%q) = %q, %v; want a given_name error", tc.in, got, fe)
				}
				return
			}
			if fe != nil || got != tc.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, fe, tc.want)
			}
		})
	}
}

// TestNameAndEmailNameTheCharacter: names and e-mail addresses are
// refused by the platform's one display-text check (libs/textcheck), whose
// reason names the character and where it is.
func TestNameAndEmailNameTheCharacter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Lay\u202Ela", "U+202E"},
		{"Lay\u2066la", "U+2066"},
		{"Lay\u200Bla", "U+200B"},
		{"Lay\x00la", "U+0000"},
		{"Lay\xffla", "not valid UTF-8"},
	} {
		if _, fe := NormalizeName("family_name", tc.in); fe == nil || fe.Field != "family_name" || !strings.Contains(fe.Reason, tc.want) {
			t.Errorf("NormalizeName(%q) = %v; want a family_name error naming %s", tc.in, fe, tc.want)
		}
		email := tc.in + "@example.ps"
		if _, fe := NormalizeEmail(email); fe == nil || fe.Field != "email" || !strings.Contains(fe.Reason, tc.want) {
			t.Errorf("NormalizeEmail(%q) = %v; want an email error naming %s", email, fe, tc.want)
		}
	}
}

func TestNormalizeEmailAndLanguage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                     "",
		"layla@Example.PS":     "layla@example.ps",
		" layla.h@mail.gov.ps": "layla.h@mail.gov.ps",
	} {
		if got, fe := NormalizeEmail(in); fe != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, fe, want)
		}
	}
	for _, in := range []string{"layla", "layla@", "@example.ps", "Layla <layla@example.ps>", "layla@localhost", "a@b.", strings.Repeat("a", 250) + "@x.ps"} {
		if got, fe := NormalizeEmail(in); fe == nil {
			t.Errorf("NormalizeEmail(%q) = %q; want an error", in, got)
		}
	}
	for in, want := range map[string]string{"": "ar", "ar": "ar", "EN": "en"} {
		if got, fe := NormalizeLanguage(in); fe != nil || got != want {
			t.Errorf("NormalizeLanguage(%q) = %q, %v; want %q", in, got, fe, want)
		}
	}
	if _, fe := NormalizeLanguage("fr"); fe == nil || fe.Field != "preferred_language" {
		t.Errorf("NormalizeLanguage(fr) = %v; want a preferred_language error", fe)
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	if n := len(commonPasswords()); n < 10000 {
		t.Fatalf("common password list has %d entries; want at least 10000", n)
	}
	for name, tc := range map[string]struct {
		pw     string
		reason string // "" means accepted
	}{
		"good":                 {pw: "zaytoun-olive-2026"},
		"good Arabic":          {pw: "زيتون-القدس-٢٠٢٦"},
		"exactly 8":            {pw: "k7#Qm2!x"},
		"exactly 128":          {pw: strings.Repeat("kq7", 42) + "xy"},
		"7 characters":         {pw: "k7#Qm2!", reason: "8 to 128"},
		"129 characters":       {pw: strings.Repeat("k", 129), reason: "8 to 128"},
		"common":               {pw: "password1", reason: "too common"},
		"common, other case":   {pw: "PassWord1", reason: "too common"},
		"common, deep in list": {pw: "qwertyuiop", reason: "too common"},
		"12345678":             {pw: "12345678", reason: "too common"},
		"contains national ID": {pw: "me-123456782", reason: "national ID"},
		"contains phone":       {pw: "x970599123456", reason: "phone"},
		"invalid UTF-8":        {pw: "abcdefgh\xff", reason: "UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			fe := checkPassword(tc.pw, "123456782", "+970599123456")
			if tc.reason == "" {
				if fe != nil {
					t.Fatalf("checkPassword(%q) = %v; want nil", tc.pw, fe)
				}
				return
			}
			if fe == nil || fe.Field != "password" || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("checkPassword(%q) = %v; want a password error about %q", tc.pw, fe, tc.reason)
			}
			if strings.Contains(fe.Reason, tc.pw) {
				t.Errorf("the reason %q echoes the password", fe.Reason)
			}
		})
	}
}

func FuzzNationalID(f *testing.F) {
	for _, s := range []string{"123456782", "123456789", "٠٠٠٠٠٠٠١٨", "", "12345678\x00", "000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, fe := NormalizeNationalID(s)
		if fe != nil {
			if got != "" {
				t.Fatalf("NormalizeNationalID(%q) = %q with error %v", s, got, fe)
			}
			return
		}
		// A valid ID is 9 ASCII digits, stable under normalisation.
		if len(got) != 9 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("NormalizeNationalID(%q) = %q; want 9 digits", s, got)
		}
		if again, fe := NormalizeNationalID(got); fe != nil || again != got {
			t.Fatalf("NormalizeNationalID is not idempotent on %q: %q, %v", got, again, fe)
		}
	})
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+970599123456", "00972521234567", "+1 (202) 555-0143", "0599123456", "+", "++", "+٩٧٠٥٩٩١٢٣٤٥٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, fe := NormalizePhone(s)
		if fe != nil {
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) < 9 || len(got) > 16 || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q; not E.164", s, got)
		}
		if again, fe := NormalizePhone(got); fe != nil || again != got {
			t.Fatalf("NormalizePhone is not idempotent on %q: %q, %v", got, again, fe)
		}
	})
}

func FuzzName(f *testing.F) {
	for _, s := range []string{"محمد", "Abu-Ali O'Neil", "Jose\u0301", "-x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, fe := NormalizeName("given_name", s)
		if fe != nil {
			return
		}
		if !utf8.ValidString(got) || got == "" || utf8.RuneCountInString(got) > maxNameRunes {
			t.Fatalf("NormalizeName(%q) = %q", s, got)
		}
		if again, fe := NormalizeName("given_name", got); fe != nil || again != got {
			t.Fatalf("NormalizeName is not idempotent on %q: %q, %v", got, again, fe)
		}
	})
}

// FuzzAuthenticate feeds arbitrary Authorization headers to the token
// parser and verifier: nothing may panic, and nothing but a token the
// service signed may authenticate.
func FuzzAuthenticate(f *testing.F) {
	e := sqliteEnv(f, nil)
	ctx := context.Background()
	must(f, e.svc.EnsureClient(ctx, ClientSpec{ID: "fuzz-client", Name: "F", Secret: "0123456789abcdef", Scopes: []string{scope.ContentRead}}))
	good, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "fuzz-client", ClientSecret: "0123456789abcdef"})
	must(f, err, "IssueToken")
	parts := strings.Split(good.AccessToken, ".")
	f.Add("Bearer " + good.AccessToken)
	f.Add("Bearer " + parts[0] + "." + parts[1] + ".")
	f.Add("Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".")
	f.Add("Bearer " + parts[0] + ".e30." + parts[2])
	f.Add("Bearer ....")
	f.Add("Basic x")
	f.Fuzz(func(t *testing.T, header string) {
		p, err := e.svc.Authenticate(ctx, header)
		if err != nil {
			return
		}
		// Only the seeded genuine token may pass.
		tok, _ := authn.Token(header)
		if tok != good.AccessToken || p.Subject != "fuzz-client" {
			t.Fatalf("Authenticate(%q) accepted a token the service did not sign: %+v", header, p)
		}
	})
}

// TestCompleteNationalID: the check digit it appends is the one
// NormalizeNationalID accepts, and no other digit is.
func TestCompleteNationalID(t *testing.T) {
	if got := CompleteNationalID("12345678"); got != "123456782" {
		t.Fatalf("CompleteNationalID(12345678) = %s; want 123456782 (the documented example)", got)
	}
	for _, p := range []string{"40001000", "99999999", "01234567", "80000001"} {
		id := CompleteNationalID(p)
		for d := '0'; d <= '9'; d++ {
			_, fe := NormalizeNationalID(p + string(d))
			if valid := p+string(d) == id; (fe == nil) != valid {
				t.Errorf("%s%c: valid %v, NormalizeNationalID error %v", p, d, valid, fe)
			}
		}
	}
}
