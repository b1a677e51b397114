package content

import (
	"context"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// hostile are the characters the issue names (an override, a zero-width
// space, an isolate, NUL), each with how the reason names it.
var hostile = []struct{ r, code string }{
	{"\u202E", "U+202E"},
	{"\u200B", "U+200B"},
	{"\u2066", "U+2066"},
	{"\x00", "U+0000"},
}

// TestDisplayTextRefused: a title, summary, body, step, fee, link, slug,
// tag, question or comment carrying a bidi control, a zero-width
// character or NUL is refused with a 400 that names the field and the
// character, and nothing is stored — on create and on save alike.
func TestDisplayTextRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	kept := h.create("kept-item")
	for _, tc := range []struct {
		name, typ, field string
		edit             func(c *Content, bad string)
	}{
		{"title", "service", "translations.ar.title", func(c *Content, bad string) {
			tr := c.Translations["ar"]
			tr.Title = "تجديد" + bad + " جواز السفر"
			c.Translations["ar"] = tr
		}},
		{"summary", "service", "translations.en.summary", func(c *Content, bad string) {
			tr := c.Translations["en"]
			tr.Summary = "Renew" + bad + " your passport."
			c.Translations["en"] = tr
		}},
		{"eligibility", "service", "translations.en.eligibility", func(c *Content, bad string) {
			tr := c.Translations["en"]
			tr.Eligibility = "Citizens\n\nwhose" + bad + " passport has expired."
			c.Translations["en"] = tr
		}},
		{"step", "service", "translations.en.steps[1]", func(c *Content, bad string) {
			tr := c.Translations["en"]
			tr.Steps = []string{"Apply", "Pay" + bad}
			c.Translations["en"] = tr
		}},
		{"fee description", "service", "translations.ar.fees[0].description", func(c *Content, bad string) {
			tr := c.Translations["ar"]
			tr.Fees = []Fee{{Description: "رسوم" + bad, Amount: 1, Currency: "JOD"}}
			c.Translations["ar"] = tr
		}},
		{"link url", "service", "translations.en.links[0].url", func(c *Content, bad string) {
			tr := c.Translations["en"]
			tr.Links = []Link{{Title: "Apply", URL: "https://moi.gov.ps/pass" + bad + "port"}}
			c.Translations["en"] = tr
		}},
		{"slug", "service", "translations.en.slug", func(c *Content, bad string) {
			tr := c.Translations["en"]
			tr.Slug = "renew" + bad + "-passport"
			c.Translations["en"] = tr
		}},
		{"tag", "service", "tags[1]", func(c *Content, bad string) { c.Tags = []string{"passports", "civil" + bad} }},
		{"body", "page", "translations.en.body", func(c *Content, bad string) {
			*c = Content{Translations: map[string]Translation{"en": {Slug: "about", Title: "About", Body: "# About\n\nWe" + bad + " serve."}}}
		}},
		{"faq question", "faq", "translations.ar.questions[0].question", func(c *Content, bad string) {
			*c = Content{Translations: map[string]Translation{"ar": {Slug: "faq", Title: "أسئلة", Questions: []QA{{Question: "متى" + bad + "؟", Answer: "غدًا"}}}}}
		}},
		{"faq answer", "faq", "translations.ar.questions[0].answer", func(c *Content, bad string) {
			*c = Content{Translations: map[string]Translation{"ar": {Slug: "faq", Title: "أسئلة", Questions: []QA{{Question: "متى؟", Answer: "غدًا" + bad}}}}}
		}},
	} {
		for _, hc := range hostile {
			t.Run(tc.name+" "+hc.code, func(t *testing.T) {
				c := serviceContent("renew-passport")
				tc.edit(&c, hc.r)
				_, err := h.svc.CreateItem(ctx, as(author), CreateInput{Type: tc.typ, Ministry: moh, Content: c})
				wantCharField(t, err, tc.field, hc.code)
				if tc.typ == "service" {
					_, err = h.svc.SaveDraft(ctx, as(author), kept.ID, kept.Version, c)
					wantCharField(t, err, tc.field, hc.code)
				}
			})
		}
	}
	if n := h.count(`SELECT COUNT(*) FROM content_items`); n != 1 {
		t.Errorf("%d items stored; want only the one created before", n)
	}
	if n := h.count(`SELECT COUNT(*) FROM content_versions`); n != 1 {
		t.Errorf("%d versions stored; want only the first", n)
	}
	// A comment is shown to editors in the history: the same rules.
	if _, err := h.svc.Transition(ctx, as(author), kept.ID, ActionSubmit, "please\u202E review"); err == nil {
		t.Fatal("submit with an override in the comment was accepted")
	} else {
		wantCharField(t, err, "comment", "U+202E")
	}
	if it := h.must(h.svc.GetItem(ctx, as(author), kept.ID)); it.State != StateDraft {
		t.Errorf("state %s after a refused submit; want draft", it.State)
	}
}

// TestDisplayTextAccepted: Arabic with harakat and tatweel, direction
// marks, emoji and CR LF in bodies are ordinary text.
func TestDisplayTextAccepted(t *testing.T) {
	t.Parallel()
	c := serviceContent("renew-passport")
	ar := c.Translations["ar"]
	ar.Title = "تَجْدِيدُ جَوَازِ السَّفَـــرِ 🇵🇸"
	ar.Summary = "جدّد جواز سفرك عبر Tamkeen\u200f."
	ar.Eligibility = "المواطنون\r\nالذين انتهت جوازاتهم ✅"
	c.Translations["ar"] = ar
	if err := c.Validate(TypeService); err != nil {
		t.Fatalf("Validate = %v; want valid", err)
	}
}

// wantCharField fails unless err is a 400 naming field with a reason that
// names the character code.
func wantCharField(t *testing.T, err error, field, code string) {
	t.Helper()
	vs := rpcerr.FieldViolations(rpcerr.FromDomain(err, nil, context.Background()))
	for _, v := range vs {
		if v.Field == field && strings.Contains(v.Reason, code) {
			return
		}
	}
	t.Fatalf("error = %v; want a field violation on %s naming %s", err, field, code)
}
