package problems

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	problemCode   = regexp.MustCompile(`^[a-z]+(-[a-z0-9]+)*$`)
	violationCode = regexp.MustCompile(`^([a-z][a-z0-9_]*|\*)(\.[a-z][a-z0-9_]*)+$`)
)

// TestCatalogueHasEveryCodeInBothLanguages: every code has a non-empty
// Arabic and English text with the same number of placeholders, the
// Arabic one written in Arabic, and no language has a code the other lacks.
func TestCatalogueHasEveryCodeInBothLanguages(t *testing.T) {
	t.Parallel()
	if len(texts) != len(Languages) {
		t.Fatalf("catalogue languages = %d; want %v", len(texts), Languages)
	}
	for _, lang := range Languages {
		for code := range texts[lang] {
			for _, other := range Languages {
				if _, ok := texts[other][code]; !ok {
					t.Errorf("%s has %q but %s does not", lang, code, other)
				}
			}
		}
	}
	if len(Codes()) < 40 {
		t.Errorf("catalogue has %d codes; want the problems' and violations' codes", len(Codes()))
	}
	for _, code := range Codes() {
		ar, en := texts[Arabic][code], texts[English][code]
		if strings.TrimSpace(ar) == "" || strings.TrimSpace(en) == "" {
			t.Errorf("%q: empty text (ar %q, en %q)", code, ar, en)
		}
		if Placeholders(ar) != Placeholders(en) {
			t.Errorf("%q: ar takes %d values, en %d", code, Placeholders(ar), Placeholders(en))
		}
		if !strings.ContainsFunc(ar, func(r rune) bool { return r >= 0x0600 && r <= 0x06FF }) {
			t.Errorf("%q: Arabic text %q has no Arabic letter", code, ar)
		}
		if !problemCode.MatchString(code) && !violationCode.MatchString(code) {
			t.Errorf("%q: a problem code is kebab-case, a violation code field.snake_case", code)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lang, code string
		args       []string
		want       string
		ok         bool
	}{
		{Arabic, "national_id.check_digit", nil, "رقم التحقق غير مطابق: يرجى التأكد من رقم الهوية", true},
		{Arabic, "given_name.too_long", []string{"100"}, "يجب ألا يتجاوز 100 حرفاً", true},
		{Arabic, "family_name.required", nil, "هذا الحقل مطلوب", true},
		{Arabic, "description.forbidden_character", []string{"U+202E", "5"}, "يحتوي على المحرف U+202E في الموضع 5، وهو غير مسموح به هنا", true},
		{English, "splits.sum_mismatch", []string{"99.000 JOD", "100.000 JOD"}, "splits add up to 99.000 JOD, not the amount 100.000 JOD", true},
		{Arabic, "given_name.too_long", nil, "", false}, // args do not fit
		{Arabic, "national_id.check_digit", []string{"x"}, "", false},
		{Arabic, "note.uncatalogued", nil, "", false},
		{Arabic, "no-such-problem", nil, "", false},
	} {
		got, ok := Text(tt.lang, tt.code, tt.args)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Text(%s, %q, %q) = %q, %v; want %q, %v", tt.lang, tt.code, tt.args, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{"": 0, "100%% sure": 0, "at most %s": 1, "%s then %s": 2, "%[2]s قبل %[1]s": 2, "trailing %": 0} {
		if got := Placeholders(text); got != want {
			t.Errorf("Placeholders(%q) = %d; want %d", text, got, want)
		}
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"":                         English,
		"ar":                       Arabic,
		"AR-ps":                    Arabic,
		"en":                       English,
		"fr":                       English,
		"fr, ar;q=0.8":             Arabic,
		"en, ar":                   English,
		"ar, en":                   Arabic,
		"en;q=0.5, ar;q=0.9":       Arabic,
		"ar;q=0.4, en":             English,
		"ar;q=0.5, *":              English,
		"ar;q=0":                   English,
		"ar;q=bogus, en;q=0.1":     English,
		"ar-PS,ar;q=0.9,en;q=0.5":  Arabic,
		" ar ; q=0.7 , en ; q=0.6": Arabic,
	} {
		if got := Language(header); got != want {
			t.Errorf("Language(%q) = %q; want %q", header, got, want)
		}
	}
}

// TestDocsListEveryCode: docs/errors.md, the list the guides point to,
// has a row for every code of the catalogue.
func TestDocsListEveryCode(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range Codes() {
		if !strings.Contains(string(doc), "| `"+code+"` |") {
			t.Errorf("docs/errors.md has no row for %q", code)
		}
	}
}
