package textcheck

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		kind Kind
		// want is "" when the text passes, else a substring of the reason.
		want string
	}{
		// What must pass.
		{"English", "Renew your passport (fees: 50 ILS)", OneLine, ""},
		{"Arabic with harakat", "مُحَمَّدٌ يَدْفَعُ الرُّسُومَ", OneLine, ""},
		{"Arabic with tatweel", "تمكيـــن", OneLine, ""},
		{"Arabic-Indic digits", "رسوم ٢٠٢٦", OneLine, ""},
		{"mixed Arabic and Latin", "دفع رسوم Tamkeen 2026", OneLine, ""},
		{"Latin combining accent", "Jose\u0301", OneLine, ""},
		{"emoji", "شكرًا 🙏🏽 ✅ ❤️ 🇵🇸", OneLine, ""},
		{"right-to-left mark kept in display text", "Tamkeen\u200f: رسوم", OneLine, ""},
		{"left-to-right mark kept in display text", "رقم\u200e +970599000001", OneLine, ""},
		{"Arabic letter mark kept in display text", "\u061c123", OneLine, ""},
		{"soft hyphen", "gov\u00adernment", OneLine, ""},
		{"Arabic number sign", "\u0600١٢", OneLine, ""},
		{"no-break space in display text", "50\u00a0ILS", OneLine, ""},
		{"multi-line body", "Line one\n\tindented\r\nline three", MultiLine, ""},
		{"address", "layla.h@mail.gov.ps", Address, ""},
		{"reference with space", "INV 2026/17", Address, ""},
		{"empty", "", OneLine, ""},

		// Bidirectional controls, in every kind.
		{"RLO", "invoice\u202Egpj.exe", OneLine, "U+202E (RIGHT-TO-LEFT OVERRIDE, a bidirectional control) at character 8"},
		{"LRE", "\u202Aabc", MultiLine, "U+202A"},
		{"RLE", "a\u202Bb", OneLine, "U+202B"},
		{"PDF", "a\u202Cb", OneLine, "U+202C"},
		{"LRO", "a\u202Db", Address, "U+202D"},
		{"LRI", "a\u2066b", OneLine, "U+2066 (LEFT-TO-RIGHT ISOLATE, a bidirectional control) at character 2"},
		{"RLI", "رسوم\u2067", OneLine, "U+2067 (RIGHT-TO-LEFT ISOLATE, a bidirectional control) at character 5"},
		{"FSI", "\u2068", MultiLine, "U+2068"},
		{"PDI", "a\u2069", OneLine, "U+2069"},

		// Zero-width characters.
		{"ZWSP", "pay\u200Bpal", OneLine, "U+200B (ZERO WIDTH SPACE, an invisible zero-width character) at character 4"},
		{"ZWNJ", "می\u200Cخواهم", OneLine, "U+200C"},
		{"ZWJ", "👨\u200D👩", MultiLine, "U+200D"},
		{"word joiner", "a\u2060b", OneLine, "U+2060"},
		{"BOM", "\uFEFFtitle", OneLine, "U+FEFF (ZERO WIDTH NO-BREAK SPACE, an invisible zero-width character) at character 1"},
		{"Mongolian vowel separator", "a\u180Eb", OneLine, "U+180E"},

		// Other invisible format characters.
		{"invisible times", "a\u2062b", OneLine, "U+2062 (an invisible format character)"},
		{"tag character", "a\U000E0041b", OneLine, "U+E0041"},
		{"interlinear annotation", "a\uFFF9b", OneLine, "U+FFF9"},
		{"deprecated format", "a\u206Eb", OneLine, "U+206E"},

		// Controls.
		{"NUL", "a\x00b", OneLine, "U+0000 (NUL, a control character) at character 2"},
		{"NUL in a body", "a\n\x00", MultiLine, "U+0000 (NUL, a control character) at character 3"},
		{"NUL in an address", "a\x00@b.ps", Address, "U+0000"},
		{"escape", "\x1b[31mred", MultiLine, "U+001B (ESCAPE, a control character)"},
		{"DEL", "a\x7f", OneLine, "U+007F"},
		{"C1 control", "a\u0085b", MultiLine, "U+0085 (a control character)"},
		{"C1 CSI", "a\u009bb", OneLine, "U+009B"},
		{"line feed in one line", "a\nb", OneLine, "U+000A (LINE FEED, a control character) at character 2"},
		{"tab in one line", "a\tb", OneLine, "U+0009"},
		{"tab in an address", "a\t@b.ps", Address, "U+0009"},
		{"bare carriage return in a body", "a\rb", MultiLine, "U+000D (CARRIAGE RETURN, a control character) at character 2"},
		{"carriage return at the end of a body", "a\r", MultiLine, "U+000D"},
		{"line separator", "a\u2028b", MultiLine, "U+2028 (LINE SEPARATOR, a line break other than line feed)"},
		{"paragraph separator", "a\u2029b", OneLine, "U+2029"},

		// Invalid UTF-8.
		{"invalid byte", "ab\xffc", OneLine, "is not valid UTF-8 (byte 3)"},
		{"truncated sequence", "رس\xd9", MultiLine, "is not valid UTF-8 (byte 5)"},
		{"surrogate half", "a\xed\xa0\x80", Address, "is not valid UTF-8 (byte 2)"},

		// What only an address refuses.
		{"RLM in an address", "layla\u200F@mail.ps", Address, "U+200F (RIGHT-TO-LEFT MARK, an invisible format character) at character 6"},
		{"LRM in an address", "\u200Eref-1", Address, "U+200E"},
		{"ALM in an address", "ref\u061C1", Address, "U+061C"},
		{"soft hyphen in an address", "lay\u00adla@mail.ps", Address, "U+00AD"},
		{"no-break space in an address", "INV\u00a02026", Address, "U+00A0 (NO-BREAK SPACE, a space other than U+0020)"},
		{"ideographic space in an address", "a\u3000b", Address, "U+3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := Check("translations.ar.title", tc.in, tc.kind)
			if tc.want == "" {
				if fe != nil {
					t.Fatalf("Check(%q) = %v; want nil", tc.in, fe)
				}
				return
			}
			if fe == nil {
				t.Fatalf("Check(%q) = nil; want a reason containing %q", tc.in, tc.want)
			}
			if fe.Field != "translations.ar.title" || !strings.Contains(fe.Reason, tc.want) {
				t.Fatalf("Check(%q) = %s: %s; want translations.ar.title: …%s…", tc.in, fe.Field, fe.Reason, tc.want)
			}
		})
	}
}

func TestFindOffsets(t *testing.T) {
	t.Parallel()
	s := "رسوم\u202Eabc" // four two-byte letters, then the override
	f, bad := Find(s, OneLine)
	if !bad || f.Offset != 8 || f.Position != 5 || f.Rune != 0x202E || f.Invalid {
		t.Fatalf("Find(%q) = %+v, %v; want offset 8, position 5, U+202E", s, f, bad)
	}
	if s[f.Offset:f.Offset+3] != "\u202E" {
		t.Fatalf("offset %d does not point at the override", f.Offset)
	}
}

// oracle is the list written out independently of Find: what no
// accepted string may contain, per kind.
func oracle(t *testing.T, s string, k Kind) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("accepted invalid UTF-8 %q", s)
	}
	for i, r := range s {
		switch {
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			t.Fatalf("accepted bidi control U+%04X in %q", r, s)
		case r == 0x200B || r == 0x200C || r == 0x200D || r == 0x2060 || r == 0xFEFF:
			t.Fatalf("accepted zero-width U+%04X in %q", r, s)
		case r == 0x2028 || r == 0x2029:
			t.Fatalf("accepted line separator U+%04X in %q", r, s)
		case unicode.IsControl(r):
			ok := k == MultiLine && (r == '\n' || r == '\t' || (r == '\r' && strings.HasPrefix(s[i+1:], "\n")))
			if !ok {
				t.Fatalf("accepted control U+%04X in %q (kind %d)", r, s, k)
			}
		case k == Address && (unicode.Is(unicode.Cf, r) || (unicode.Is(unicode.Zs, r) && r != ' ')):
			t.Fatalf("accepted format or space U+%04X in address %q", r, s)
		}
	}
}

func FuzzDisplayText(f *testing.F) {
	for _, s := range []string{
		"", "Renew your passport", "مُحَمَّد", "تمكيـــن", "🙏🏽 ❤️", "a\u202Eb", "a\u200Bb", "a\u2066b", "a\x00b",
		"a\r\nb", "a\rb", "\xff", "ab\xd9", "\u200F@", "\U000E0041", "a\u2028",
	} {
		for k := range 3 {
			f.Add(s, uint8(k))
		}
	}
	f.Fuzz(func(t *testing.T, s string, kind uint8) {
		k := Kind(kind % 3)
		fb, bad := Find(s, k)
		fe := Check("f", s, k)
		if bad != (fe != nil) {
			t.Fatalf("Find and Check disagree on %q: %v, %v", s, bad, fe)
		}
		if !bad {
			oracle(t, s, k)
			return
		}
		if fb.Offset < 0 || fb.Offset >= len(s) || fb.Position < 1 || fb.Position > fb.Offset+1 {
			t.Fatalf("Find(%q) = %+v: offset or position out of range", s, fb)
		}
		if fb.Position != utf8.RuneCountInString(s[:fb.Offset])+1 {
			t.Fatalf("Find(%q) = %+v: position is not the character count before offset, plus one", s, fb)
		}
		// What comes before the first refusal is acceptable on its own,
		// unless it ends in a CR that only the refused character follows.
		if pre := s[:fb.Offset]; !strings.HasSuffix(pre, "\r") {
			if _, again := Find(pre, k); again {
				t.Fatalf("Find(%q) stops at %d but its prefix %q is refused too", s, fb.Offset, pre)
			}
		}
		if fe.Field != "f" || fe.Reason == "" {
			t.Fatalf("Check(%q) = %+v", s, fe)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	s := strings.Repeat("دفع رسوم تسجيل الأرض Property tax 2026. ", 50)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if Check("body", s, MultiLine) != nil {
			b.Fatal("refused")
		}
	}
}

// TestCheckCodes: a refusal's code is "<field>.<what>" and its args the
// values the catalogue's text shows (the character and its position, or
// the bad byte).
func TestCheckCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		field, s, code string
		args           []string
	}{
		{"title", "ab\u202Ec", "title.forbidden_character", []string{"U+202E", "3"}},
		{"splits[1].account", "a\x00", "splits.account.forbidden_character", []string{"U+0000", "2"}},
		{"body", "ok\xffno", "body.invalid_utf8", []string{"3"}},
	} {
		fe := Check(tt.field, tt.s, OneLine)
		if fe == nil || fe.Code != tt.code || !slices.Equal(rpcerr.SplitArgs(fe.Args), tt.args) {
			t.Errorf("Check(%q, %q) = %+v; want code %q args %q", tt.field, tt.s, fe, tt.code, tt.args)
		}
	}
}
