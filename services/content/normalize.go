package content

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// Search text is normalised and stemmed here, in Go, for both the indexed
// fields and the query, so that SQLite FTS5 and PostgreSQL full-text search
// only ever compare ready-made terms: both engines then match exactly the
// same items, and the ranking (computed in Go from the stored terms) is the
// same on both.

// maxQueryBytes and maxQueryTerms bound what a search query may cost.
const (
	maxQueryBytes = 256
	maxQueryTerms = 8
)

// ErrQuery is wrapped by ParseQuery's errors.
var ErrQuery = errors.New("invalid search query")

// arabicFolds unifies the letter forms people type interchangeably: hamza
// carriers and alef variants become bare alef, alef maqsura becomes yeh, ta
// marbuta becomes heh, and the Persian/Urdu yeh and kaf that keyboards
// produce become their Arabic forms.
var arabicFolds = map[rune]rune{
	'أ': 'ا', 'إ': 'ا', 'آ': 'ا', 'ٱ': 'ا', 'ٲ': 'ا', 'ٳ': 'ا',
	'ى': 'ي', 'ی': 'ي', 'ئ': 'ي',
	'ة': 'ه',
	'ؤ': 'و',
	'ک': 'ك',
}

// foldRune maps one rune to its search form; drop reports that it carries
// no meaning for search (diacritics, tatweel, format controls).
func foldRune(r rune) (out rune, drop bool) {
	if d, ok := i18n.ASCIIDigit(r); ok {
		return d, false
	}
	switch {
	case r == 'ـ': // tatweel (kashida), a stretching glyph
		return 0, true
	case r >= 0x064B && r <= 0x065F, r == 0x0670, r >= 0x06D6 && r <= 0x06ED:
		// tashkeel (fatha, damma, kasra, tanwin, shadda, sukun, ...),
		// superscript alef and Quranic annotation marks.
		return 0, true
	case unicode.Is(unicode.Cf, r): // ZWNJ, ZWJ, bidi marks
		return 0, true
	}
	if f, ok := arabicFolds[r]; ok {
		return f, false
	}
	if unicode.Is(unicode.Mn, r) { // combining marks of Latin text (é typed as e + ´)
		return 0, true
	}
	return unicode.ToLower(r), false
}

// isWordRune reports whether r belongs to a word (before folding).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == 'ـ' || unicode.Is(unicode.Cf, r)
}

// stopwords carry no meaning for search, in their folded form.
var stopwords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "to": true, "in": true,
	"for": true, "on": true, "or": true, "is": true, "at": true, "by": true, "with": true,
	// على is not here: folded it is علي, which is also the name Ali.
	"في": true, "من": true, "الي": true, "عن": true, "و": true,
}

// foldWord normalises one word: folded runes, Latin lower case.
func foldWord(w string) string {
	var b strings.Builder
	b.Grow(len(w))
	for _, r := range w {
		if f, drop := foldRune(r); !drop {
			b.WriteRune(f)
		}
	}
	return b.String()
}

// Term returns the search term of one word: folded, then stemmed; empty
// when the word is a stop word or folds to nothing.
func Term(word string) string {
	w := foldWord(word)
	if w == "" || stopwords[w] {
		return ""
	}
	if isArabicWord(w) {
		return stemArabic(w)
	}
	return stemEnglish(w)
}

// Terms splits text into words and returns their search terms in order
// (repeats kept: they count for ranking).
func Terms(text string) []string {
	var out []string
	eachWord(text, func(_, _ int, word string) {
		if t := Term(word); t != "" {
			out = append(out, t)
		}
	})
	return out
}

// eachWord calls fn with the byte span and text of every word in s.
func eachWord(s string, fn func(start, end int, word string)) {
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(start, i, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(start, len(s), s[start:])
	}
}

func isArabicWord(w string) bool {
	for _, r := range w {
		if unicode.Is(unicode.Arabic, r) {
			return true
		}
	}
	return false
}

// stemArabic removes the definite article and its common attached
// prefixes (وال بال كال فال لل ال) when a stem of at least three letters
// remains: "المدرسه" and "مدرسه" then meet. Nothing more aggressive: root
// extraction would merge unrelated words in a small government corpus.
func stemArabic(w string) string {
	n := utf8.RuneCountInString(w)
	for _, p := range []string{"وال", "بال", "كال", "فال"} {
		if strings.HasPrefix(w, p) && n-3 >= 3 {
			return w[len(p):]
		}
	}
	for _, p := range []string{"ال", "لل"} {
		if strings.HasPrefix(w, p) && n-2 >= 3 {
			return w[len(p):]
		}
	}
	return w
}

// stemEnglish is a small, predictable suffix stripper: plurals (-s, -es,
// -ies), -ing and -ed, then a final e, so that "licence", "licences",
// "licensed" and "licensing" become "licenc"/"licens", and "required"
// meets "require". It does not aim at Porter's recall.
func stemEnglish(w string) string {
	if len(w) <= 3 || !isASCII(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ing") && len(w)-3 >= 4:
		w = w[:len(w)-3]
	case strings.HasSuffix(w, "ed") && len(w)-2 >= 4:
		w = w[:len(w)-2]
	}
	if strings.HasSuffix(w, "e") && len(w) > 4 {
		w = w[:len(w)-1]
	}
	return w
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Query is a parsed search query: distinct terms, all of which a hit must
// contain.
type Query struct {
	Terms []string
}

// ParseQuery turns what a citizen typed into a Query. It accepts any
// script and punctuation (which separates words), ignores stop words and
// repeats, and refuses an empty, oversized or wordless query with an error
// wrapping ErrQuery.
func ParseQuery(q string) (Query, error) {
	if !utf8.ValidString(q) {
		return Query{}, queryErr("invalid_utf8", "is not valid UTF-8 (byte %s)", strconv.Itoa(textcheck.InvalidByte(q)))
	}
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return Query{}, queryErr("required", "is required")
	case len(q) > maxQueryBytes:
		return Query{}, queryErr("too_many_bytes", "is longer than %s bytes", strconv.Itoa(maxQueryBytes))
	}
	seen := map[string]bool{}
	var out Query
	for _, t := range Terms(q) {
		if seen[t] {
			continue
		}
		seen[t] = true
		out.Terms = append(out.Terms, t)
	}
	switch {
	case len(out.Terms) == 0:
		return Query{}, queryErr("no_words", "has no searchable words")
	case len(out.Terms) > maxQueryTerms:
		return Query{}, queryErr("too_many_words", "has more than %s words", strconv.Itoa(maxQueryTerms))
	}
	return out, nil
}

// queryErr is ParseQuery's refusal of q, wrapping ErrQuery: a field error
// of q whose code is "q.<what>" and whose reason is format filled with
// vals, which also fill the catalogue text of the code.
func queryErr(what, format string, vals ...string) error {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return errors.Join(ErrQuery, &rpcerr.FieldError{Field: "q", Reason: fmt.Sprintf(format, args...), Code: "q." + what, Args: rpcerr.ArgList(vals...)})
}

// ftsMatch is the query in SQLite FTS5 syntax: each term a quoted string,
// implicitly ANDed. Terms hold only letters and digits, so quoting is
// enough to keep FTS5 operators out.
func (q Query) ftsMatch() string {
	parts := make([]string, len(q.Terms))
	for i, t := range q.Terms {
		parts[i] = `"` + t + `"`
	}
	return strings.Join(parts, " ")
}

// tsQuery is the query for PostgreSQL's plainto_tsquery('simple', …),
// which ANDs its words.
func (q Query) tsQuery() string { return strings.Join(q.Terms, " ") }

// highlight returns an HTML snippet of text around the first word whose
// term is in terms, with matched words in <mark>; everything else is
// escaped. With no match it returns the start of text. window is the
// number of words shown.
func highlight(text string, terms map[string]bool, window int) string {
	type span struct {
		start, end int
		hit        bool
	}
	var words []span
	first := -1
	eachWord(text, func(s, e int, w string) {
		hit := terms[Term(w)]
		if hit && first < 0 {
			first = len(words)
		}
		words = append(words, span{s, e, hit})
	})
	if len(words) == 0 {
		return ""
	}
	from := 0
	if first > window/3 {
		from = first - window/3
	}
	to := min(from+window, len(words))
	var b strings.Builder
	if from > 0 {
		b.WriteString("… ")
	}
	pos := words[from].start
	for _, w := range words[from:to] {
		b.WriteString(escapeHTML(text[pos:w.start]))
		if w.hit {
			b.WriteString("<mark>" + escapeHTML(text[w.start:w.end]) + "</mark>")
		} else {
			b.WriteString(escapeHTML(text[w.start:w.end]))
		}
		pos = w.end
	}
	if to < len(words) {
		b.WriteString(" …")
	} else {
		b.WriteString(escapeHTML(text[pos:]))
	}
	return strings.TrimSpace(b.String())
}
