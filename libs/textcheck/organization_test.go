package textcheck

import (
	"strings"
	"testing"
)

// TestOrganizationName: the seal name check refuses invisible and
// look-alike characters and accepts real Arabic and Latin names.
func TestOrganizationName(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"latin", "Ministry of Health", true},
		{"arabic", "وزارة الصحة", true},
		{"arabic with harakat", "وِزارة الصِّحّة", true},
		{"both scripts in separate words", "وزارة الصحة - Ministry of Health", true},
		{"digits and punctuation", "Directorate 7 (Gaza), Health & Care / Dept.", true},
		{"arabic-indic digits", "مديرية ٧", true},
		{"latin-1 letters", "Société Générale", true},
		{"arabic comma", "وزارة الصحة، غزة", true},
		{"empty", "", false},
		{"only digits", "2026", false},
		{"leading space", " Ministry", false},
		{"double space", "Ministry  of Health", false},
		{"too long", strings.Repeat("a", 65), false},
		{"invalid utf-8", "Ministry \xff", false},
		{"NUL", "Ministry\x00 of Health", false},
		{"newline", "Ministry\nof Health", false},
		{"tab", "Ministry\tof Health", false},
		{"RLO", "Ministry \u202eof Health", false},
		{"LRE", "\u202aMinistry", false},
		{"PDF", "Ministry\u202c", false},
		{"isolate", "Ministry \u2067Health\u2069", false},
		{"LRM", "Ministry\u200e of Health", false},
		{"RLM", "Ministry\u200f", false},
		{"ALM", "وزارة\u061c الصحة", false},
		{"ZWSP", "Mini\u200bstry", false},
		{"ZWNJ", "Mini\u200cstry", false},
		{"ZWJ", "Mini\u200dstry", false},
		{"word joiner", "Mini\u2060stry", false},
		{"BOM", "\ufeffMinistry", false},
		{"no-break space", "Ministry\u00a0of Health", false},
		{"cyrillic a in latin word", "Ministry of He\u0430lth", false},
		{"cyrillic o in latin word", "Minist\u0440y", false},
		{"greek omicron in latin word", "Ministry \u03bff Health", false},
		{"cyrillic word", "\u041c\u0438\u043d\u0438\u0441\u0442\u0435\u0440\u0441\u0442\u0432\u043e", false},
		{"latin and arabic in one word", "Healthوزارة", false},
		{"fullwidth latin", "\uff2dinistry", false},
		{"arabic presentation form", "\ufefbوزارة", false},
		{"other symbol", "Ministry of Health ✓", false},
		{"latin combining mark", "Ministe\u0301re", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := OrganizationProblem(tc.in)
			if (p == "") != tc.ok {
				t.Errorf("OrganizationProblem(%+q) = %q; want ok=%v", tc.in, p, tc.ok)
			}
		})
	}
}
