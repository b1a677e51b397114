package content

import (
	"testing"
)

func TestContentValidate(t *testing.T) {
	t.Parallel()
	valid := serviceContent("renew-passport")
	edit := func(f func(ar, en *Translation, c *Content)) Content {
		c := serviceContent("renew-passport")
		ar, en := c.Translations["ar"], c.Translations["en"]
		f(&ar, &en, &c)
		c.Translations = map[string]Translation{"ar": ar, "en": en}
		return c
	}
	tests := []struct {
		name  string
		typ   Type
		c     Content
		field string // "" means valid
	}{
		{"valid service", TypeService, valid, ""},
		{"arabic slug", TypeService, edit(func(ar, _ *Translation, _ *Content) { ar.Slug = "تجديد-جواز-السفر" }), ""},
		{"no translations", TypeService, Content{}, "translations"},
		{"unknown language", TypePage, Content{Translations: map[string]Translation{"fr": {Slug: "x", Title: "x", Body: "x"}}}, "translations"},
		{"slug with capitals", TypeService, edit(func(_, en *Translation, _ *Content) { en.Slug = "Renew" }), "translations.en.slug"},
		{"slug with double hyphen", TypeService, edit(func(_, en *Translation, _ *Content) { en.Slug = "a--b" }), "translations.en.slug"},
		{"missing title", TypeService, edit(func(ar, _ *Translation, _ *Content) { ar.Title = "" }), "translations.ar.title"},
		{"html in title", TypeService, edit(func(ar, _ *Translation, _ *Content) { ar.Title = "<b>x</b>" }), "translations.ar.title"},
		{"entity in summary", TypeService, edit(func(_, en *Translation, _ *Content) { en.Summary = "a &#60;script" }), "translations.en.summary"},
		{"service needs steps", TypeService, edit(func(_, en *Translation, _ *Content) { en.Steps = nil }), "translations.en.steps"},
		{"unknown currency", TypeService, edit(func(_, en *Translation, _ *Content) { en.Fees[0].Currency = "BTC" }), "translations.en.fees[0].currency"},
		{"negative fee", TypeService, edit(func(ar, _ *Translation, _ *Content) { ar.Fees[0].Amount = -1 }), "translations.ar.fees[0].amount"},
		{"javascript link", TypeService, edit(func(_, en *Translation, _ *Content) { en.Links[0].URL = "javascript:alert(1)" }), "translations.en.links[0].url"},
		{"javascript in eligibility", TypeService, edit(func(_, en *Translation, _ *Content) { en.Eligibility = "[x](javascript:y)" }), "translations.en.eligibility"},
		{"body on a service", TypeService, edit(func(_, en *Translation, _ *Content) { en.Body = "text" }), "translations.en.body"},
		{"bad tag", TypeService, edit(func(_, _ *Translation, c *Content) { c.Tags = []string{"Bad Tag"} }), "tags[0]"},
		{"repeated tag", TypeService, edit(func(_, _ *Translation, c *Content) { c.Tags = []string{"a", "a"} }), "tags[1]"},
		{"faq needs questions", TypeFAQ, Content{Translations: map[string]Translation{"ar": {Slug: "f", Title: "أسئلة"}}}, "translations.ar.questions"},
		{"faq answer required", TypeFAQ, Content{Translations: map[string]Translation{"ar": {Slug: "f", Title: "أسئلة", Questions: []QA{{Question: "س؟"}}}}}, "translations.ar.questions[0].answer"},
		{"fees on a page", TypePage, Content{Translations: map[string]Translation{"en": {Slug: "p", Title: "P", Body: "b", Fees: []Fee{{"x", 1, "ILS"}}}}}, "translations.en.fees"},
		{"news needs a summary", TypeNews, Content{Translations: map[string]Translation{"en": {Slug: "n", Title: "N", Body: "b"}}}, "translations.en.summary"},
		{"guide with steps", TypeGuide, Content{Translations: map[string]Translation{"en": {Slug: "g", Title: "G", Body: "b", Steps: []string{"one"}}}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.c.Validate(tc.typ)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v; want valid", err)
				}
				return
			}
			wantField(t, err, tc.field)
		})
	}
}
