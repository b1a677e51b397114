package content

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// Type is the kind of an item; it decides which fields a translation has.
type Type string

// The content types.
const (
	TypeService Type = "service" // an e-service: eligibility, documents, fees, steps
	TypeGuide   Type = "guide"   // how to apply, as rich text (and optional steps)
	TypeFAQ     Type = "faq"     // question/answer pairs
	TypeNews    Type = "news"    // a dated article
	TypePage    Type = "page"    // any other page
)

// Types lists every content type.
var Types = []Type{TypeService, TypeGuide, TypeFAQ, TypeNews, TypePage}

// Languages are the translation languages, Arabic first: it is the
// default and the fallback order.
var Languages = []string{"ar", "en"}

// Currencies a fee may be in, with their minor-unit exponent (JOD has 3).
var Currencies = map[string]int{"ILS": 2, "JOD": 3, "USD": 2, "EUR": 2}

// Fee is an e-service fee in minor units.
type Fee struct {
	Description string `json:"description"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
}

// QA is one FAQ entry; Answer is rich text.
type QA struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Link is a labelled URL (e.g. the e-service itself).
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Translation is an item's text in one language.
type Translation struct {
	Slug              string   `json:"slug"`
	Title             string   `json:"title"`
	Summary           string   `json:"summary,omitempty"`
	Body              string   `json:"body,omitempty"`
	Eligibility       string   `json:"eligibility,omitempty"`
	RequiredDocuments []string `json:"required_documents,omitempty"`
	Fees              []Fee    `json:"fees,omitempty"`
	Steps             []string `json:"steps,omitempty"`
	ProcessingTime    string   `json:"processing_time,omitempty"`
	Links             []Link   `json:"links,omitempty"`
	Questions         []QA     `json:"questions,omitempty"`
}

// Content is what a version holds: everything an editor edits.
type Content struct {
	Tags         []string               `json:"tags,omitempty"`
	Translations map[string]Translation `json:"translations"`
}

// Item is a content item at its latest version.
type Item struct {
	ID       string
	Type     Type
	Ministry string
	State    State
	// Version is the latest saved version.
	Version int
	// PublishedVersion is the version the public sees; 0 when none.
	PublishedVersion int
	Content
	CreateTime time.Time
	UpdateTime time.Time
	UpdatedBy  string
	// PublishAt and ExpireAt are the schedule; zero when unset.
	PublishAt time.Time
	ExpireAt  time.Time
}

// Limits of the fields.
const (
	maxTitle    = 200
	maxSummary  = 1000
	maxShort    = 300 // a document, a step, a fee description, processing time
	maxListLen  = 50
	maxTags     = 20
	maxURL      = 2048
	maxComment  = 2000
	maxSlugRune = 100
	maxTagRunes = 40
)

var (
	ministryPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	// Slugs and tags are lower case words of any script joined by
	// hyphens, so that Arabic pages get Arabic URLs.
	slugPattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{Nd}]+(-[\p{Ll}\p{Lo}\p{Nd}]+)*$`)
	// markup catches the start of an HTML tag, comment or entity in a
	// plain-text field.
	markup = regexp.MustCompile(`<[a-zA-Z!/?]|&#|&[a-zA-Z]+;`)
)

// fieldErrs collects field errors.
type fieldErrs []error

// add refuses field for the rule what, the last part of its code (see
// fieldCode); reason is the English text, formatted with vals, which
// also fill the placeholders of the code's catalogue text (a limit, a
// type), so both languages keep the numbers.
func (f *fieldErrs) add(field, what, reason string, vals ...string) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	*f = append(*f, &rpcerr.FieldError{Field: field, Reason: fmt.Sprintf(reason, args...), Code: fieldCode(field, what), Args: rpcerr.ArgList(vals...)})
}

// fieldCode is the machine code of the rule what on field: the field
// path without its indexes and without the translation it is in, so
// that one rule has one code in both languages of an item
// ("translations.ar.fees[2].amount", "range" → "fees.amount.range").
func fieldCode(field, what string) string {
	if rest, ok := strings.CutPrefix(field, "translations."); ok {
		for _, lang := range Languages {
			if r, ok := strings.CutPrefix(rest, lang+"."); ok {
				field = r
				break
			}
		}
	}
	return rpcerr.FieldCode(field, what)
}

func (f fieldErrs) err() error { return errors.Join(f...) }

// text adds the platform's display-text error for s (bidi controls,
// zero-width and control characters, invalid UTF-8; see libs/textcheck)
// and reports whether there was one.
func (f *fieldErrs) text(field, s string, k textcheck.Kind) bool {
	if e := textcheck.Check(field, s, k); e != nil {
		e.Code = fieldCode(field, strings.TrimPrefix(e.Code, rpcerr.FieldCode(field, "")))
		*f = append(*f, e)
		return true
	}
	return false
}

// ValidateMinistry checks a ministry code such as "moh" or "mol".
func ValidateMinistry(field, m string) error {
	if !ministryPattern.MatchString(m) {
		return &rpcerr.FieldError{Field: field, Reason: "must be a ministry code: 2 to 32 lower-case letters, digits or hyphens, starting with a letter", Code: rpcerr.FieldCode(field, "format")}
	}
	return nil
}

// ParseType checks a content type name.
func ParseType(field, s string) (Type, error) {
	for _, t := range Types {
		if string(t) == s {
			return t, nil
		}
	}
	return "", &rpcerr.FieldError{Field: field, Reason: "must be one of service, guide, faq, news, page", Code: rpcerr.FieldCode(field, "unsupported")}
}

// Validate checks c for an item of type t and returns every problem at
// once as field errors (JSON paths such as "translations.ar.fees[0].currency").
func (c Content) Validate(t Type) error {
	var fe fieldErrs
	if len(c.Tags) > maxTags {
		fe.add("tags", "too_many", "at most %s tags", strconv.Itoa(maxTags))
	}
	seen := map[string]bool{}
	for i, tag := range c.Tags {
		f := fmt.Sprintf("tags[%d]", i)
		switch {
		case fe.text(f, tag, textcheck.Address):
		case !slugPattern.MatchString(tag) || utf8.RuneCountInString(tag) > maxTagRunes:
			fe.add(f, "format", "must be lower-case words joined by hyphens, at most %s characters", strconv.Itoa(maxTagRunes))
		case seen[tag]:
			fe.add(f, "duplicate", "repeats %s", strconv.Quote(tag))
		}
		seen[tag] = true
	}
	if len(c.Translations) == 0 {
		fe.add("translations", "required", "at least one of ar and en is required")
	}
	for lang := range c.Translations {
		if !slices.Contains(Languages, lang) {
			fe.add("translations", "language", "language %s is not ar or en", strconv.Quote(truncate(lang, 8)))
		}
	}
	for _, lang := range Languages {
		tr, ok := c.Translations[lang]
		if !ok {
			continue
		}
		p := "translations." + lang + "."
		tr.validate(t, p, &fe)
	}
	return fe.err()
}

func (tr Translation) validate(t Type, p string, fe *fieldErrs) {
	switch {
	case tr.Slug == "":
		fe.add(p+"slug", "required", "is required")
	case fe.text(p+"slug", tr.Slug, textcheck.Address):
	case !slugPattern.MatchString(tr.Slug) || utf8.RuneCountInString(tr.Slug) > maxSlugRune:
		fe.add(p+"slug", "format", "must be lower-case words (any script) or digits joined by single hyphens, at most %s characters", strconv.Itoa(maxSlugRune))
	}
	plain(fe, p+"title", tr.Title, maxTitle, true)
	plain(fe, p+"summary", tr.Summary, maxSummary, t == TypeService || t == TypeNews)
	plain(fe, p+"processing_time", tr.ProcessingTime, maxShort, false)
	rich(fe, p+"body", tr.Body, t == TypeGuide || t == TypeNews || t == TypePage)
	rich(fe, p+"eligibility", tr.Eligibility, t == TypeService)
	list(fe, p+"required_documents", tr.RequiredDocuments, false)
	list(fe, p+"steps", tr.Steps, t == TypeService)
	entries(fe, p, "fees", tr.Fees, func(fp string, f Fee) {
		plain(fe, fp+"description", f.Description, maxShort, true)
		if f.Amount < 0 || f.Amount > 1e12 {
			fe.add(fp+"amount", "range", "must be 0 or more minor units (at most %s)", "10^12")
		}
		if _, ok := Currencies[f.Currency]; !ok {
			fe.add(fp+"currency", "unsupported", "must be ILS, JOD, USD or EUR")
		}
	})
	entries(fe, p, "links", tr.Links, func(lp string, l Link) {
		plain(fe, lp+"title", l.Title, maxTitle, true)
		if fe.text(lp+"url", l.URL, textcheck.Address) {
			return
		}
		if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(l.URL) > maxURL {
			fe.add(lp+"url", "format", "must be an http or https URL")
		}
	})
	if t == TypeFAQ && len(tr.Questions) == 0 {
		fe.add(p+"questions", "required", "an faq needs at least one question")
	}
	entries(fe, p, "questions", tr.Questions, func(qp string, qa QA) {
		plain(fe, qp+"question", qa.Question, maxSummary, true)
		rich(fe, qp+"answer", qa.Answer, true)
	})
	// Fields a type does not have must stay empty, so that nothing is
	// stored that no page shows.
	notFor := func(field string, set bool) {
		if set {
			fe.add(p+field, "not_allowed", "is not a field of a %s", string(t))
		}
	}
	if t != TypeService {
		notFor("eligibility", tr.Eligibility != "")
		notFor("required_documents", len(tr.RequiredDocuments) > 0)
		notFor("fees", len(tr.Fees) > 0)
		notFor("processing_time", tr.ProcessingTime != "")
	}
	if t != TypeService && t != TypeGuide {
		notFor("steps", len(tr.Steps) > 0)
	}
	if t == TypeService || t == TypeFAQ {
		notFor("body", tr.Body != "")
	}
	if t != TypeFAQ {
		notFor("questions", len(tr.Questions) > 0)
	}
}

// plain checks a plain-text field: one line of display text (valid UTF-8,
// no control, bidi or zero-width characters), no markup, within max
// characters.
func plain(fe *fieldErrs, field, s string, max int, required bool) {
	switch {
	case s == "" || strings.TrimSpace(s) == "":
		if required {
			fe.add(field, "required", "is required")
		} else if s != "" {
			fe.add(field, "blank", "is blank")
		}
		return
	case fe.text(field, s, textcheck.OneLine):
	case utf8.RuneCountInString(s) > max:
		fe.add(field, "too_long", "is longer than %s characters", strconv.Itoa(max))
	case markup.MatchString(s):
		fe.add(field, "markup", "must be plain text: HTML tags and entities are not allowed")
	}
}

// rich checks a rich-text (Markdown) field: multi-line display text (tab,
// LF and CR LF allowed; no other control, bidi or zero-width characters);
// raw HTML in it is shown as text, so only its links need checking.
func rich(fe *fieldErrs, field, s string, required bool) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			fe.add(field, "required", "is required")
		}
		return
	case len(s) > maxRichTextBytes:
		fe.add(field, "too_many_bytes", "is longer than %s bytes", strconv.Itoa(maxRichTextBytes))
		return
	case fe.text(field, s, textcheck.MultiLine):
		return
	}
	if _, refused := RenderMarkdown(s); len(refused) > 0 {
		fe.add(field, "unsafe_link", "link target %s is not allowed: use https, http, mailto or a /path", strconv.Quote(truncate(refused[0], 40)))
	}
}

func list(fe *fieldErrs, field string, items []string, required bool) {
	if required && len(items) == 0 {
		fe.add(field, "too_few", "at least one is required")
	}
	if len(items) > maxListLen {
		fe.add(field, "too_many", "at most %s entries", strconv.Itoa(maxListLen))
	}
	for i, s := range items {
		plain(fe, fmt.Sprintf("%s[%d]", field, i), s, maxShort, true)
	}
}

// entries checks a list of structured entries (fees, links, questions) of
// the translation at path p: at most maxListLen of them, and each one by
// check under its own path (p+"fees[0].").
func entries[T any](fe *fieldErrs, p, name string, items []T, check func(path string, item T)) {
	if len(items) > maxListLen {
		fe.add(p+name, "too_many", "at most %s "+name, strconv.Itoa(maxListLen))
	}
	for i, item := range items {
		check(fmt.Sprintf("%s%s[%d].", p, name, i), item)
	}
}

// validateComment checks a workflow comment: multi-line display text, as
// editors read it in the history.
func validateComment(field, s string, required bool) error {
	var fe fieldErrs
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			fe.add(field, "required", "is required")
		}
	case fe.text(field, s, textcheck.MultiLine):
	case utf8.RuneCountInString(s) > maxComment:
		fe.add(field, "too_long", "is longer than %s characters", strconv.Itoa(maxComment))
	}
	return fe.err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// slugs returns the item's slugs in language order, without repeats.
func (c Content) slugs() []string {
	var out []string
	for _, lang := range Languages {
		if tr, ok := c.Translations[lang]; ok && tr.Slug != "" && !slices.Contains(out, tr.Slug) {
			out = append(out, tr.Slug)
		}
	}
	return out
}
