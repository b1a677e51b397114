package content

import (
	"context"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
)

// BenchmarkPublicFeed renders feeds of FeedSize entries over 10,000
// published items (seeded as BenchmarkPublic seeds them): the whole
// ministry in Arabic, and one tag in English. Each call reads the
// database (feeds are not cached in memory) and renders the XML.
// Figures in docs/guides/content.md.
func BenchmarkPublicFeed(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			h := newHarness(b, benchDB(b, engine), nil)
			seedPublic(b, h, benchItems)
			ctx := context.Background()
			if engine == store.Postgres {
				// As autovacuum would after a bulk load: without
				// statistics the planner sorts every row of the language
				// instead of walking the index.
				if _, err := h.db.ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			for name, f := range map[string]FeedFilter{
				"ministry-ar": {Ministry: moh, Lang: "ar"},
				"tag-en":      {Ministry: moh, Tag: "group-1", Lang: "en"},
			} {
				b.Run("listPublic-"+name, func(b *testing.B) {
					for b.Loop() {
						if _, err := listPublic(ctx, h.db, f.Lang, PublicFilter{Ministry: f.Ministry, Tag: f.Tag}, h.clk.Now(), FeedSize, 0); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(name, func(b *testing.B) {
					var size int
					for b.Loop() {
						feed, err := h.svc.PublicFeed(ctx, f)
						if err != nil {
							b.Fatal(err)
						}
						if feed.Entries != FeedSize {
							b.Fatalf("feed of %d entries; want %d", feed.Entries, FeedSize)
						}
						size = len(feed.Atom)
					}
					b.ReportMetric(float64(size), "bytes/feed")
				})
			}
		})
	}
}

// BenchmarkRenderFeed is the XML alone: FeedSize bilingual-fixture entries,
// no database.
func BenchmarkRenderFeed(b *testing.B) {
	items := make([]PublicContent, FeedSize)
	for i := range items {
		_, c := fixtureItem(i + 1)
		lang := "ar"
		tr, ok := c.Translations[lang]
		if !ok {
			lang, tr = "en", c.Translations["en"]
		}
		items[i] = PublicContent{ID: "cnt_bench", Type: "news", Ministry: moh, Tags: c.Tags, Lang: lang, Translation: publicOf(tr)}
	}
	f := FeedFilter{Ministry: moh, Lang: "ar"}
	for b.Loop() {
		if _, err := renderFeed(testIssuer, f, items); err != nil {
			b.Fatal(err)
		}
	}
}
