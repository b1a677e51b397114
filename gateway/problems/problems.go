// Package problems is the catalogue of the texts a ministry app can show
// for the gateway's errors: for every stable machine code, of a problem
// ("not-found", the last segment of its type URN) or of a field violation
// ("national_id.check_digit"), one text per language (Arabic and English),
// kept in texts.json for translators to edit without touching Go.
//
// A violation code "<field>.<what>" not listed itself falls back to the
// generic entry "*.<what>" ("given_name.required" → "*.required"), so a
// kind of refusal shared by many fields is translated once. Texts take
// %s placeholders, in order, only where a value matters (a limit, a
// character's position); both languages of a code have the same number.
package problems

import (
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tamkeen/tamkeen/libs/i18n"
)

// The languages of the catalogue. English is the default for API clients:
// a caller gets Arabic only when its Accept-Language prefers it.
const (
	English = "en"
	Arabic  = "ar"
)

// Languages are the catalogue's languages.
var Languages = []string{Arabic, English}

//go:embed texts.json
var files embed.FS

// texts is language → code → text.
var texts = i18n.Load[map[string]string](files, "texts.json")

// Text is the catalogue text of code in lang, its placeholders filled
// with args; ok is false when the catalogue has no text for the code (or
// its generic "*.<what>"), or when args do not fit its placeholders, so
// that the caller keeps the enabler's own English text.
func Text(lang, code string, args []string) (string, bool) {
	t, ok := lookup(lang, code)
	if !ok || Placeholders(t) != len(args) {
		return "", false
	}
	if len(args) == 0 {
		return t, true
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	return fmt.Sprintf(t, vals...), true
}

// lookup finds code's text in lang, or that of its generic entry.
func lookup(lang, code string) (string, bool) {
	m := texts[lang]
	if t, ok := m[code]; ok {
		return t, true
	}
	if i := strings.LastIndexByte(code, '.'); i >= 0 {
		t, ok := m["*"+code[i:]]
		return t, ok
	}
	return "", false
}

// Codes are the catalogue's codes (of its English texts), sorted.
func Codes() []string {
	out := make([]string, 0, len(texts[English]))
	for c := range texts[English] {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Placeholders counts the values t takes: its %s verbs ("%%" is a
// literal percent sign). An explicit index (%[2]s) lets a language put
// the values in another order; then the highest index is the count.
func Placeholders(t string) int {
	n, highest := 0, 0
	for i := 0; i < len(t); i++ {
		if t[i] != '%' || i+1 >= len(t) {
			continue
		}
		if t[i+1] == '%' {
			i++
			continue
		}
		n++
		if t[i+1] == '[' {
			if j := strings.IndexByte(t[i:], ']'); j > 0 {
				if k, err := strconv.Atoi(t[i+2 : i+j]); err == nil && k > highest {
					highest = k
				}
			}
		}
	}
	if highest > 0 {
		return highest
	}
	return n
}

// Language picks the catalogue language for an Accept-Language header:
// Arabic when an Arabic range ("ar", "ar-PS") has a higher quality than
// every English one and "*", or the same quality and comes first;
// English otherwise, including for no header at all.
func Language(acceptLanguage string) string {
	best, bestQ := English, 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(tag, "-")
		var lang string
		switch primary {
		case Arabic:
			lang = Arabic
		case English, "*":
			lang = English
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}
