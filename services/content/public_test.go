package content

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func TestPublicRead(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()

		t.Run("drafts are never public", func(t *testing.T) {
			it := h.approved("not-yet")
			_, err := h.svc.GetPublicContent(ctx, "not-yet", "en")
			wantErr(t, err, rpcerr.ErrNotFound)
			if items, _, _ := h.svc.ListPublicContent(ctx, PublicFilter{}); len(items) != 0 {
				t.Errorf("public list before any publish = %d items", len(items))
			}
			_ = it
		})

		t.Run("a draft edit after publishing does not change the public view until republished", func(t *testing.T) {
			it := h.published("stable")
			before, err := h.svc.GetPublicContent(ctx, "stable", "en")
			if err != nil {
				t.Fatal(err)
			}
			if before.Translation.Title != "Renew a passport" || before.ETag == "" || before.Version != 1 {
				t.Fatalf("public = %+v", before)
			}
			c := it.Content
			en := c.Translations["en"]
			en.Title = "Renew a passport (new rules)"
			c.Translations = map[string]Translation{"ar": c.Translations["ar"], "en": en}
			it = h.must(h.svc.SaveDraft(ctx, as(author), it.ID, it.Version, c))
			h.clk.Advance(time.Minute)
			again, err := h.svc.GetPublicContent(ctx, "stable", "en")
			if err != nil || again.Translation.Title != before.Translation.Title || again.ETag != before.ETag {
				t.Fatalf("public after a draft edit = %q %s, %v; want the published title and the same ETag", again.Translation.Title, again.ETag, err)
			}
			h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, ""))
			h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
			h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, time.Time{}, ""))
			after, err := h.svc.GetPublicContent(ctx, "stable", "en")
			if err != nil || after.Translation.Title != en.Title || after.ETag == before.ETag || after.Version != 2 {
				t.Fatalf("public after republish = %q v%d %s, %v; want the new title, v2 and a new ETag", after.Translation.Title, after.Version, after.ETag, err)
			}
		})

		t.Run("language fallback is flagged", func(t *testing.T) {
			c := serviceContent("english-only")
			delete(c.Translations, "ar")
			it := h.must(h.svc.CreateItem(ctx, as(author), CreateInput{Type: "service", Ministry: moh, Content: c}))
			h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, ""))
			h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
			h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, time.Time{}, ""))
			ar, err := h.svc.GetPublicContent(ctx, "english-only", "ar")
			if err != nil || !ar.Fallback || ar.Lang != "en" {
				t.Fatalf("ar of an English-only item = lang %s fallback %v, %v; want en with fallback", ar.Lang, ar.Fallback, err)
			}
			en, _ := h.svc.GetPublicContent(ctx, "english-only", "en")
			if en.Fallback || en.ETag == ar.ETag {
				t.Errorf("en = fallback %v etag %s (ar's %s); want no fallback and its own ETag", en.Fallback, en.ETag, ar.ETag)
			}
			// The Arabic slug of a bilingual item finds it in English too.
			h.published("both")
			if pc, err := h.svc.GetPublicContent(ctx, "both-ar", "en"); err != nil || pc.Lang != "en" || pc.Fallback {
				t.Errorf("Arabic slug, lang=en = %s fallback %v, %v", pc.Lang, pc.Fallback, err)
			}
			_, err = h.svc.GetPublicContent(ctx, "both", "fr")
			wantField(t, err, "lang")
		})

		t.Run("unpublish takes it down", func(t *testing.T) {
			it := h.published("withdrawn")
			h.must(h.svc.Transition(ctx, as(publisher), it.ID, ActionUnpublish, "superseded"))
			_, err := h.svc.GetPublicContent(ctx, "withdrawn", "ar")
			wantErr(t, err, rpcerr.ErrNotFound)
			if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = $1 AND ce_subject = $2`, SubjectUnpublished, it.ID); n != 1 {
				t.Errorf("%d unpublished events; want 1", n)
			}
		})
	})
}

func TestPublicListPagination(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		for i := range 5 {
			h.clk.Advance(time.Second)
			h.published("list-" + string(rune('a'+i)))
		}
		c := Content{Tags: []string{"covid"}, Translations: map[string]Translation{"ar": {Slug: "faq-covid", Title: "أسئلة عن اللقاح",
			Questions: []QA{{Question: "أين أتلقى اللقاح؟", Answer: "في أقرب **مركز صحي**."}}}}}
		f := h.must(h.svc.CreateItem(ctx, as(author), CreateInput{Type: "faq", Ministry: moh, Content: c}))
		h.must(h.svc.Transition(ctx, as(author), f.ID, ActionSubmit, ""))
		h.must(h.svc.Transition(ctx, as(editor), f.ID, ActionApprove, ""))
		h.clk.Advance(time.Second)
		h.must(h.svc.PublishItem(ctx, as(publisher), f.ID, time.Time{}, time.Time{}, ""))

		var all []PublicContent
		token := ""
		for page := 0; ; page++ {
			items, next, err := h.svc.ListPublicContent(ctx, PublicFilter{Lang: "en", PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, items...)
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("pagination does not end")
			}
			token = next
		}
		if len(all) != 6 || all[0].Type != "faq" || !all[0].Fallback || all[1].Translation.Slug != "list-e" {
			t.Fatalf("pages = %d items, first %s fallback %v; want 6, newest first, the Arabic-only faq flagged", len(all), all[0].Type, all[0].Fallback)
		}
		for name, f := range map[string]PublicFilter{
			"by type": {Type: "faq"}, "by tag": {Tag: "covid"}, "by ministry": {Ministry: moh, Type: "faq"},
		} {
			if items, _, err := h.svc.ListPublicContent(ctx, f); err != nil || len(items) != 1 || items[0].ID != all[0].ID {
				t.Errorf("%s: %d items, %v; want the faq", name, len(items), err)
			}
		}
		if items, _, _ := h.svc.ListPublicContent(ctx, PublicFilter{Ministry: mol}); len(items) != 0 {
			t.Errorf("mol has %d public items; want 0", len(items))
		}
		_, _, err := h.svc.ListPublicContent(ctx, PublicFilter{PageToken: "garbage"})
		wantField(t, err, "page_token")
		faq := all[0].Translation
		if len(faq.Questions) != 1 || faq.Questions[0].Answer != "" || !strings.Contains(faq.AnswersHTML[0], "<strong>مركز صحي</strong>") {
			t.Errorf("public faq = %+v; want the answer as HTML only", faq)
		}
	})
}

// TestSanitisationReachesThePublicAPI: whatever an editor puts in rich
// text, the public representation holds no script, event handler or
// javascript: link, and markup in plain-text fields is refused.
func TestSanitisationReachesThePublicAPI(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	c := Content{Translations: map[string]Translation{"en": {Slug: "xss", Title: "Safety",
		Body: "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[ok](https://gov.ps) <a href=\"javascript:alert(3)\">x</a>"}}}
	it := h.must(h.svc.CreateItem(ctx, as(author), CreateInput{Type: "page", Ministry: moh, Content: c}))
	h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, ""))
	h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
	h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, time.Time{}, ""))
	pc, err := h.svc.GetPublicContent(ctx, "xss", "en")
	if err != nil {
		t.Fatal(err)
	}
	body := publicToProto(pc).GetTranslation()
	if body.GetBody() != "" {
		t.Errorf("the public API serves the Markdown source: %q", body.GetBody())
	}
	for _, bad := range []string{"<script", "<img", `<a href="javascript`} {
		if strings.Contains(body.GetBodyHtml(), bad) {
			t.Errorf("public body_html contains %q: %s", bad, body.GetBodyHtml())
		}
	}
	assertSafeHTML(t, pc.Translation.BodyHTML)
	if !strings.Contains(pc.Translation.BodyHTML, `<a href="https://gov.ps" rel="noopener noreferrer">ok</a>`) {
		t.Errorf("the safe link was lost: %s", pc.Translation.BodyHTML)
	}

	for field, tr := range map[string]Translation{
		"translations.en.body":  {Slug: "x1", Title: "t", Body: "[x](javascript:alert(1))"},
		"translations.en.title": {Slug: "x2", Title: "<script>alert(1)</script>", Body: "b"},
	} {
		_, err := h.svc.CreateItem(ctx, as(author), CreateInput{Type: "page", Ministry: moh, Content: Content{Translations: map[string]Translation{"en": tr}}})
		wantField(t, err, field)
	}
}
