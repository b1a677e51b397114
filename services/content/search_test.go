package content

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// Words of the fixture, so that items share words in varying fields.
var (
	arWords = []string{"وزارة", "الصحة", "جواز", "السفر", "رخصة", "القيادة", "مدرسة", "التعليم", "ضريبة", "الدخل", "شهادة", "الميلاد", "تسجيل", "أرض", "عمل", "تأمين"}
	enWords = []string{"ministry", "health", "passport", "travel", "licence", "driving", "school", "education", "tax", "income", "certificate", "birth", "registration", "land", "work", "insurance"}
)

// fixtureItem is the i-th item of the shared search fixture: bilingual
// (every fifth Arabic-only, every seventh English-only), with words
// spread over title, summary and body.
func fixtureItem(i int) (Type, Content) {
	pick := func(words []string, k int) string { return words[(i*k+k)%len(words)] }
	c := Content{Tags: []string{fmt.Sprintf("group-%d", i%4)}, Translations: map[string]Translation{}}
	if i%7 != 0 || i%5 == 0 {
		c.Translations["ar"] = Translation{
			Slug:    fmt.Sprintf("بند-%d", i),
			Title:   pick(arWords, 1) + " " + pick(arWords, 3),
			Summary: "خدمة " + pick(arWords, 5),
			Body:    "تفاصيل " + pick(arWords, 7) + " و" + pick(arWords, 11),
		}
	}
	if i%5 != 0 || i%7 == 0 {
		c.Translations["en"] = Translation{
			Slug:    fmt.Sprintf("item-%d", i),
			Title:   strings.ToUpper(pick(enWords, 1)[:1]) + pick(enWords, 1)[1:] + " " + pick(enWords, 3),
			Summary: "Service for " + pick(enWords, 5) + "s",
			Body:    "Details about " + pick(enWords, 7) + " and " + pick(enWords, 11),
		}
	}
	return TypePage, c
}

// special are hand-written items with the spellings issue 7 names.
var special = []Content{
	{Translations: map[string]Translation{"ar": {Slug: "ahmad", Title: "قصة نجاح أحمد", Body: "مقابلة مع المعلم أحمد."}}},
	{Translations: map[string]Translation{"ar": {Slug: "diacritics", Title: "إعلان", Body: "قرار وَزَارَةِ الصِّحَّةِ الجديد بشأن اللقاح."}}},
	{Translations: map[string]Translation{"ar": {Slug: "madrasa", Title: "افتتاح مدرسه جديدة", Body: "تم افتتاح مدرسه في نابلس."}}},
	{Translations: map[string]Translation{"en": {Slug: "licence", Title: "Fishing licence", Body: "Apply for a licence to fish off Gaza."}}},
	{Translations: map[string]Translation{"en": {Slug: "in-body", Title: "Annual report", Body: "The report covers every fishing licence issued."}}},
}

// searchQueries are run on both engines; their results must agree.
var searchQueries = []struct{ q, lang string }{
	{"احمد", "ar"}, {"وزارة الصحة", "ar"}, {"مدرسة", "ar"}, {"المدرسة", "ar"}, {"جواز", "ar"}, {"رخصه القياده", "ar"},
	{"ضريبة", "ar"}, {"شهاده", "ar"}, {"licences", "en"}, {"licence", "en"}, {"passports", "en"}, {"health", "en"},
	{"tax income", "en"}, {"certificates", "en"}, {"driving", "en"}, {"fishing licence", "en"}, {"ministry", "ar"}, {"عمل", "en"},
}

type searchResult struct {
	Total int
	Hits  []string // slug:lang:score
}

func TestSearch(t *testing.T) {
	results := map[string][]searchResult{}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		publish := func(typ Type, c Content) {
			t.Helper()
			app := as(mohApp)
			it, err := h.svc.CreateItem(ctx, app, CreateInput{Type: string(typ), Ministry: moh, Content: c})
			if err != nil {
				t.Fatal(err)
			}
			h.must(h.svc.Transition(ctx, app, it.ID, ActionSubmit, ""))
			// Four-eyes: the app submitted, so another editor approves.
			h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
			h.must(h.svc.PublishItem(ctx, app, it.ID, time.Time{}, time.Time{}, ""))
			h.clk.Advance(time.Second)
		}
		for i := range 200 {
			publish(fixtureItem(i))
		}
		for _, c := range special {
			publish(TypePage, c)
		}
		// A draft never shows up, whatever it says.
		draft := special[0]
		draft.Translations = map[string]Translation{"ar": {Slug: "draft-ahmad", Title: "مسودة أحمد", Body: "أحمد"}}
		if _, err := h.svc.CreateItem(ctx, as(author), CreateInput{Type: "page", Ministry: moh, Content: draft}); err != nil {
			t.Fatal(err)
		}

		find := func(q, lang string) []Hit {
			t.Helper()
			hits, _, _, err := h.svc.SearchPublicContent(ctx, q, lang, 50, "")
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			return hits
		}
		has := func(hits []Hit, slug string) bool {
			for _, h := range hits {
				if h.Content.Translation.Slug == slug {
					return true
				}
			}
			return false
		}
		for _, tc := range []struct{ name, q, lang, slug string }{
			{"احمد finds أحمد", "احمد", "ar", "ahmad"},
			{"no diacritics finds diacritics", "وزارة الصحة", "ar", "diacritics"},
			{"مدرسة finds مدرسه", "مدرسة", "ar", "madrasa"},
			{"with the article", "المدرسة", "ar", "madrasa"},
			{"licences finds licence", "licences", "en", "licence"},
		} {
			if hits := find(tc.q, tc.lang); !has(hits, tc.slug) {
				t.Errorf("%s: search %q found %d hits without %s", tc.name, tc.q, len(hits), tc.slug)
			}
		}
		hits := find("احمد", "ar")
		if has(hits, "draft-ahmad") {
			t.Error("a draft was found")
		}
		if len(hits) == 0 || !strings.Contains(hits[0].Snippet, "<mark>أحمد</mark>") {
			t.Errorf("snippet = %q; want أحمد highlighted", firstSnippet(hits))
		}
		fl := find("fishing licence", "en")
		if len(fl) < 2 || fl[0].Content.Translation.Slug != "licence" || fl[1].Content.Translation.Slug != "in-body" {
			t.Errorf("fishing licence ranked %v; want the title match above the body match", slugs(fl))
		}
		// Arabic-only items are found from an English search, flagged.
		if ar := find("جواز", "en"); len(ar) == 0 || !ar[0].Content.Fallback {
			t.Errorf("Arabic words with lang=en: %d hits, first fallback=%v; want fallback hits", len(ar), len(ar) > 0 && ar[0].Content.Fallback)
		}
		// Pages do not overlap and add up to the total.
		all, _, total, _ := h.svc.SearchPublicContent(ctx, "health", "en", 50, "")
		var paged []string
		token := ""
		for {
			page, next, _, err := h.svc.SearchPublicContent(ctx, "health", "en", 7, token)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, slugs(page)...)
			if next == "" {
				break
			}
			token = next
		}
		if total < 10 || len(paged) != total || !reflect.DeepEqual(paged[:len(all)], slugs(all)) {
			t.Errorf("paged %d of total %d; want every hit once, in the same order", len(paged), total)
		}

		var got []searchResult
		for _, q := range searchQueries {
			hits, _, total, err := h.svc.SearchPublicContent(ctx, q.q, q.lang, 50, "")
			if err != nil {
				t.Fatal(err)
			}
			r := searchResult{Total: total}
			for _, hit := range hits {
				r.Hits = append(r.Hits, fmt.Sprintf("%s:%s:%g", hit.Content.Translation.Slug, hit.Content.Lang, hit.Score))
			}
			got = append(got, r)
		}
		results[string(db.Engine())] = got
	})
	sq, pg := results[string(store.SQLite)], results[string(store.Postgres)]
	if sq == nil || pg == nil {
		t.Skip("one engine did not run; nothing to compare")
	}
	nonEmpty := 0
	for i, q := range searchQueries {
		if !reflect.DeepEqual(sq[i], pg[i]) {
			t.Errorf("search %q (%s) differs:\n sqlite   %v\n postgres %v", q.q, q.lang, sq[i], pg[i])
		}
		if sq[i].Total > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < len(searchQueries)-2 {
		t.Errorf("only %d of %d queries found anything; the comparison would prove little", nonEmpty, len(searchQueries))
	}
}

func slugs(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Content.Translation.Slug
	}
	return out
}

func firstSnippet(hits []Hit) string {
	if len(hits) == 0 {
		return ""
	}
	return hits[0].Snippet
}

func TestSearchRefusesBadQueries(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	for _, q := range []string{"", "   ", "?!", strings.Repeat("x ", 200)} {
		_, _, _, err := h.svc.SearchPublicContent(context.Background(), q, "ar", 10, "")
		wantField(t, err, "q")
	}
}
