package content

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// benchItems is the corpus size of the public-read and search benchmarks.
const benchItems = 10000

// seedPublic publishes n bilingual items straight into the public
// projection (the same putPublic a publish runs), in large transactions,
// so that seeding 10,000 items takes seconds.
func seedPublic(b *testing.B, h *harness, n int) {
	b.Helper()
	ctx := context.Background()
	at := h.clk.Now()
	for start := 0; start < n; start += 500 {
		err := h.db.InTx(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				_, c := fixtureItem(i)
				it := Item{ID: fmt.Sprintf("cnt_bench%06d", i), Type: TypePage, Ministry: moh, Version: 1, Content: c}
				if err := h.svc.putPublic(ctx, tx, it, at.Add(time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchDB(b *testing.B, engine store.Engine) *store.DB {
	if engine == store.SQLite {
		return storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db"))
	}
	return storetest.PostgresDB(b, storetest.PostgresDatabase(b))
}

// BenchmarkPublic measures, over 10,000 published items, public reads by
// slug served from the replica's memory cache (hit) and from the database
// (miss), and search latency with p50/p99 over a mix of Arabic and English
// queries. docs in services/content/README.md.
func BenchmarkPublic(b *testing.B) {
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			h := newHarness(b, benchDB(b, engine), func(c *Config, _ *Deps) { c.PublicCacheTTL = time.Minute })
			seedPublic(b, h, benchItems)
			ctx := context.Background()
			slug := func(i int) string {
				if i%5 == 0 && i%7 != 0 {
					return fmt.Sprintf("بند-%d", i)
				}
				return fmt.Sprintf("item-%d", i)
			}

			b.Run("read-cache-hit", func(b *testing.B) {
				for i := range 100 {
					if _, err := h.svc.GetPublicContent(ctx, slug(i), "en"); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if _, err := h.svc.GetPublicContent(ctx, slug(i%100), "en"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("read-cache-miss", func(b *testing.B) {
				h.svc.cache.ttl = 0
				defer func() { h.svc.cache.ttl = time.Minute }()
				for i := 0; b.Loop(); i++ {
					if _, err := h.svc.GetPublicContent(ctx, slug((i*7919)%benchItems), "en"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("search", func(b *testing.B) {
				queries := []struct{ q, lang string }{
					{"جواز السفر", "ar"}, {"مدرسة", "ar"}, {"رخصه القياده", "ar"}, {"شهاده الميلاد", "ar"},
					{"passport travel", "en"}, {"licences", "en"}, {"tax income", "en"}, {"birth certificates", "en"},
				}
				var lat []time.Duration
				for i := 0; b.Loop(); i++ {
					q := queries[i%len(queries)]
					t0 := time.Now()
					if _, _, _, err := h.svc.SearchPublicContent(ctx, q.q, q.lang, 10, ""); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
			})
		})
	}
}
