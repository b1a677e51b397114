package content

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTermNormalisesArabic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, a, b string
	}{
		{"hamza above", "أحمد", "احمد"},
		{"hamza below", "إسلام", "اسلام"},
		{"madda", "آمنة", "امنه"},
		{"wasla", "ٱلله", "الله"},
		{"ta marbuta", "مدرسة", "مدرسه"},
		{"alef maqsura", "مستشفى", "مستشفي"},
		{"hamza on waw", "مؤسسة", "موسسه"},
		{"hamza on yeh", "رئيس", "رييس"},
		{"diacritics", "وَزَارَةُ", "وزاره"},
		{"shadda and tanwin", "مُحَمَّدٌ", "محمد"},
		{"tatweel", "جــواز", "جواز"},
		{"persian yeh", "علی", "علي"},
		{"definite article", "المدرسة", "مدرسه"},
		{"article with waw", "والصحة", "صحه"},
		{"arabic-indic digits", "٢٠٢٤", "2024"},
		{"extended digits", "۱۲۳", "123"},
		{"latin case", "Passport", "passport"},
		{"english plural", "licences", "licence"},
		{"english past", "renewed", "renew"},
		{"english ing", "renewing", "renew"},
		{"ies", "studies", "study"},
		{"required", "required", "require"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := Term(tc.a), Term(tc.b); got != want || got == "" {
				t.Errorf("Term(%q) = %q, Term(%q) = %q; want equal and non-empty", tc.a, got, tc.b, want)
			}
		})
	}
}

func TestTermsKeepsDistinctWordsApart(t *testing.T) {
	t.Parallel()
	// Normalisation must not merge words that differ in letters.
	for _, pair := range [][2]string{{"مدرسة", "مدرس"}, {"licence", "lice"}, {"جواز", "جوائز"}} {
		if Term(pair[0]) == Term(pair[1]) {
			t.Errorf("Term(%q) == Term(%q) == %q; want different", pair[0], pair[1], Term(pair[0]))
		}
	}
}

func TestTermsSplitsOnPunctuationAndDropsStopwords(t *testing.T) {
	t.Parallel()
	got := Terms("Renew the passport, (online) — في وزارة الداخلية؛ e-mail")
	want := []string{"renew", "passport", "onlin", "وزاره", "داخليه", "e", "mail"}
	if !slices.Equal(got, want) {
		t.Errorf("Terms = %q; want %q", got, want)
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		q       string
		want    []string
		wantErr string
	}{
		{"arabic", "أحمد", []string{"احمد"}, ""},
		{"repeats folded away", "مدرسة مدرسه", []string{"مدرسه"}, ""},
		{"fts operators are just words", `licence OR "NOT" NEAR(x`, []string{"licenc", "not", "near", "x"}, ""},
		{"empty", "   ", nil, "q: is required"},
		{"only punctuation", "?!-", nil, "no searchable words"},
		{"only stop words", "the of في", nil, "no searchable words"},
		{"too long", strings.Repeat("ا", 200), nil, "longer than 256"},
		{"too many words", "a1 b2 c3 d4 e5 f6 g7 h8 i9", nil, "more than 8"},
		{"bad utf-8", "\xff\xfe", nil, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := ParseQuery(tc.q)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseQuery(%q) error = %v; want ErrQuery mentioning %q", tc.q, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(q.Terms, tc.want) {
				t.Fatalf("ParseQuery(%q) = %q, %v; want %q", tc.q, q.Terms, err, tc.want)
			}
		})
	}
}

func TestHighlight(t *testing.T) {
	t.Parallel()
	text := "يمكن للمواطن تجديد جواز السفر <عبر> الإنترنت"
	got := highlight(text, map[string]bool{Term("جواز"): true}, 4)
	if !strings.Contains(got, "<mark>جواز</mark>") || strings.Contains(got, "<عبر>") || !strings.Contains(got, "…") {
		t.Errorf("highlight = %q; want the word marked, the rest escaped, and an ellipsis", got)
	}
	if got := highlight("Apply for a <b>licence</b>", map[string]bool{Term("licences"): true}, 12); got != "Apply for a &lt;b&gt;<mark>licence</mark>&lt;/b&gt;" {
		t.Errorf("highlight = %q", got)
	}
}

// FuzzParseQuery: any input either parses into 1..8 distinct non-empty
// terms made of letters and digits only (so they are safe inside FTS5 and
// tsquery syntax), or fails with ErrQuery; it never panics.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"أحمد", "licences", `"a" OR b*`, "NEAR(a b)", "ـــ", "٢٠٢٤", "a:b", "'; DROP TABLE x;--", "\u200f\u064e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			if !errors.Is(err, ErrQuery) {
				t.Fatalf("ParseQuery(%q) error %v does not wrap ErrQuery", s, err)
			}
			return
		}
		if len(q.Terms) == 0 || len(q.Terms) > maxQueryTerms {
			t.Fatalf("ParseQuery(%q) = %d terms", s, len(q.Terms))
		}
		seen := map[string]bool{}
		for _, term := range q.Terms {
			if term == "" || seen[term] || !utf8.ValidString(term) {
				t.Fatalf("ParseQuery(%q): bad or repeated term %q", s, term)
			}
			seen[term] = true
			for _, r := range term {
				if !isWordRune(r) {
					t.Fatalf("ParseQuery(%q): term %q holds %q, which FTS syntax could read", s, term, r)
				}
			}
			if Term(term) != term && Term(term) != "" {
				// Stemming is not idempotent for every word, but the
				// term must at least stay a single word.
				if strings.ContainsAny(Term(term), " \"*") {
					t.Fatalf("term %q re-stems to %q", term, Term(term))
				}
			}
		}
		if !strings.Contains(q.ftsMatch(), `"`) || strings.Count(q.ftsMatch(), `"`) != 2*len(q.Terms) {
			t.Fatalf("ftsMatch %q is not %d quoted terms", q.ftsMatch(), len(q.Terms))
		}
	})
}
