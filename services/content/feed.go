package content

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// Atom feeds (RFC 4287) of published content: one ministry's latest
// items, optionally of one type or with one tag, in Arabic or English.
// A feed is built from the public projection alone (content_public, as
// the public API), so nothing that is not published and unexpired can
// appear in it.

// FeedSize is the most entries a feed holds: the latest published items.
// Older ones stay reachable through the public list API.
const FeedSize = 50

// MediaTypeAtom is the media type of a feed document.
const MediaTypeAtom = "application/atom+xml"

// FeedFilter selects a feed.
type FeedFilter struct {
	// Ministry is required; Type and Tag are optional filters.
	Ministry, Type, Tag string
	// Lang is "ar" (the default) or "en".
	Lang string
}

// Feed is a rendered Atom feed document.
type Feed struct {
	// Atom is the UTF-8 XML document.
	Atom []byte
	// ETag is a quoted strong entity tag of Atom: equal documents have
	// equal tags, and any change (an entry published, republished, taken
	// down or expired) changes it.
	ETag string
	// Entries is how many entries Atom holds.
	Entries int
}

// PublicFeed renders the Atom feed f selects: the ministry's latest
// FeedSize published, unexpired items, newest first, each in f.Lang (or,
// lacking it, in the other language, with that entry's xml:lang). A
// ministry the enabler does not know (no role granted and no item ever
// created in it) is ErrNotFound; a known one with nothing published has
// an empty feed.
func (s *Service) PublicFeed(ctx context.Context, f FeedFilter) (Feed, error) {
	lang, err := parseLang(f.Lang)
	if err != nil {
		return Feed{}, err
	}
	if err := ValidateMinistry("ministry", f.Ministry); err != nil {
		return Feed{}, err
	}
	if f.Type != "" {
		if _, err := ParseType("type", f.Type); err != nil {
			return Feed{}, err
		}
	}
	if f.Tag != "" {
		if err := validateFeedTag(f.Tag); err != nil {
			return Feed{}, err
		}
	}
	known, err := ministryKnown(ctx, s.DB, f.Ministry)
	if err != nil {
		return Feed{}, err
	}
	if !known {
		return Feed{}, fmt.Errorf("%w: no content ministry %q", rpcerr.ErrNotFound, f.Ministry)
	}
	f.Lang = lang
	other := Languages[0]
	if other == lang {
		other = Languages[1]
	}
	items, err := feedItems(ctx, s.DB, lang, other, f, s.Now(), FeedSize)
	if err != nil {
		return Feed{}, fmt.Errorf("feed of %s: %w", f.Ministry, err)
	}
	doc, err := renderFeed(s.cfg.Issuer, f, items)
	if err != nil {
		return Feed{}, fmt.Errorf("feed of %s: %w", f.Ministry, err)
	}
	sum := sha256.Sum256(doc)
	return Feed{Atom: doc, ETag: `"` + idEncoding.EncodeToString(sum[:15]) + `"`, Entries: len(items)}, nil
}

// validateFeedTag checks a tag filter with the rules of the tags an item
// carries (so that no feed is asked for a tag no item can have).
func validateFeedTag(tag string) error {
	if err := textcheck.Check("tag", tag, textcheck.Address); err != nil {
		return err
	}
	if !slugPattern.MatchString(tag) || utf8.RuneCountInString(tag) > maxTagRunes {
		return &rpcerr.FieldError{Field: "tag", Reason: "must be lower-case words joined by hyphens, at most 40 characters", Code: "tag.format", Args: rpcerr.ArgList(strconv.Itoa(maxTagRunes))}
	}
	return nil
}

// Category schemes of the entries' type and tags.
const (
	schemeType = "urn:tamkeen:content:type"
	schemeTag  = "urn:tamkeen:content:tag"
)

// The document's shape: the feed element in the Atom namespace (its
// children inherit it), and xml:lang as an attribute in the XML namespace,
// which encoding/xml writes with the reserved xml: prefix undeclared.
type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang      string      `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID        string      `xml:"id"`
	Title     atomText    `xml:"title"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

type atomEntry struct {
	Lang       string         `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Summary    *atomText      `xml:"summary"`
	Content    *atomText      `xml:"content"`
}

// atomText is a text construct: plain text, or HTML escaped as text.
type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type atomLink struct {
	Rel      string `xml:"rel,attr"`
	Type     string `xml:"type,attr,omitempty"`
	HrefLang string `xml:"hreflang,attr,omitempty"`
	Href     string `xml:"href,attr"`
}

type atomCategory struct {
	Scheme string `xml:"scheme,attr"`
	Term   string `xml:"term,attr"`
	Label  string `xml:"label,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

// typeNames are the content types' names in the feed titles and the
// entries' category labels, Arabic then English.
var typeNames = map[Type][2]string{
	TypeService: {"الخدمات الإلكترونية", "E-services"},
	TypeGuide:   {"الأدلة", "Guides"},
	TypeFAQ:     {"الأسئلة الشائعة", "FAQs"},
	TypeNews:    {"الأخبار", "News"},
	TypePage:    {"الصفحات", "Pages"},
}

// langIndex is the position of lang in Languages' order (ar 0, en 1).
func langIndex(lang string) int {
	if lang == "en" {
		return 1
	}
	return 0
}

// feedTitle names the feed in its language, e.g. "moh · الأخبار · صحة".
func feedTitle(f FeedFilter) string {
	parts := []string{f.Ministry}
	if f.Type != "" {
		parts = append(parts, typeNames[Type(f.Type)][langIndex(f.Lang)])
	} else {
		parts = append(parts, [2]string{"المحتوى المنشور", "Published content"}[langIndex(f.Lang)])
	}
	if f.Tag != "" {
		parts = append(parts, f.Tag)
	}
	return strings.Join(parts, " · ")
}

// atomTime is an RFC 3339 date-time in UTC, as Atom's date constructs are.
func atomTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// renderFeed writes the Atom document of items (newest first) for f, with
// links under issuer, the gateway's public base URL.
func renderFeed(issuer string, f FeedFilter, items []PublicContent) ([]byte, error) {
	base := strings.TrimRight(issuer, "/")
	q := url.Values{"lang": {f.Lang}}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.Tag != "" {
		q.Set("tag", f.Tag)
	}
	self := base + "/v1/public/ministries/" + url.PathEscape(f.Ministry) + "/feed.atom?" + q.Encode()
	q.Set("ministry", f.Ministry)
	list := base + "/v1/public/content?" + q.Encode()

	feed := atomFeed{
		Lang:  f.Lang,
		ID:    uuidURN("feed|" + f.Ministry + "|" + f.Type + "|" + f.Tag + "|" + f.Lang),
		Title: atomText{Type: "text", Text: feedTitle(f)},
		// An empty feed has no date to show; the epoch keeps its
		// document, and so its ETag, the same from one request to the next.
		Updated: atomTime(time.Unix(0, 0)),
		Links: []atomLink{
			{Rel: "self", Type: MediaTypeAtom, Href: self},
			{Rel: "alternate", Type: "application/json", Href: list},
		},
		Author:    atomPerson{Name: f.Ministry},
		Generator: "Tamkeen",
	}
	if len(items) > 0 {
		feed.Updated = atomTime(items[0].PublishTime)
	}
	for _, pc := range items {
		feed.Entries = append(feed.Entries, feedEntry(base, pc))
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(feed); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// feedEntry is pc's entry: its id is the item's and language's for good
// (a republished item is the same entry, updated), updated is when the
// version shown was published, and the link is the item's public API
// address in that language.
func feedEntry(base string, pc PublicContent) atomEntry {
	tr := pc.Translation
	e := atomEntry{
		Lang:    pc.Lang,
		ID:      uuidURN("item|" + pc.ID + "|" + pc.Lang),
		Title:   atomText{Type: "text", Text: tr.Title},
		Updated: atomTime(pc.PublishTime),
		Links: []atomLink{{
			Rel: "alternate", Type: "application/json", HrefLang: pc.Lang,
			Href: base + "/v1/public/content/" + url.PathEscape(tr.Slug) + "?lang=" + pc.Lang,
		}},
	}
	if names, ok := typeNames[Type(pc.Type)]; ok {
		e.Categories = append(e.Categories, atomCategory{Scheme: schemeType, Term: pc.Type, Label: names[langIndex(pc.Lang)]})
	}
	for _, tag := range pc.Tags {
		e.Categories = append(e.Categories, atomCategory{Scheme: schemeTag, Term: tag})
	}
	if tr.Summary != "" {
		e.Summary = &atomText{Type: "text", Text: tr.Summary}
	}
	if body := entryHTML(tr); body != "" {
		// Atom has no direction attribute: the HTML carries it, so that
		// readers lay Arabic out right to left.
		dir := "ltr"
		if pc.Lang == "ar" {
			dir = "rtl"
		}
		e.Content = &atomText{Type: "html", Text: `<div dir="` + dir + `" lang="` + pc.Lang + `">` + body + `</div>`}
	}
	return e
}

// entryHTML is the sanitised HTML of a translation's rich text: the body,
// an e-service's eligibility, an FAQ's questions and answers. Plain-text
// parts are escaped here.
func entryHTML(tr PublicTranslation) string {
	var b strings.Builder
	b.WriteString(tr.BodyHTML)
	b.WriteString(tr.EligibilityHTML)
	for i, qa := range tr.Questions {
		b.WriteString("<h3>" + html.EscapeString(qa.Question) + "</h3>")
		if i < len(tr.AnswersHTML) {
			b.WriteString(tr.AnswersHTML[i])
		}
	}
	return b.String()
}

// feedNamespace is the name-space UUID of the feeds' and entries'
// name-based ids (RFC 9562 version 5); it must never change, or every
// reader sees every entry again as new.
var feedNamespace = [16]byte{0x8c, 0x2e, 0x4b, 0x61, 0x3f, 0x0a, 0x4e, 0x5d, 0x9b, 0x7e, 0x15, 0x6d, 0xa0, 0x43, 0xc2, 0x19}

// uuidURN is the urn:uuid of name in feedNamespace (RFC 9562 section 5.5):
// the same name gives the same id on every replica, forever.
func uuidURN(name string) string {
	h := sha1.New()
	h.Write(feedNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u[:])
	return "urn:uuid:" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}
