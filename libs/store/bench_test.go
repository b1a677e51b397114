package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// BenchmarkInTxConcurrentSQLite has writers commit one INSERT each per
// InTx on one SQLite file at once, as the services' handlers do under load,
// with group commit (group) and with a transaction per call (single, as
// before group commit). ns/op is per InTx call (wall time over b.N calls);
// mean-ns, p50-ns, p99-ns, p99.9-ns and max-ns are the latency of one call
// as its caller sees it (SQLite's busy handler sleeps up to 100 ms at a
// time, so without group commit the tail is beyond the p99).
func BenchmarkInTxConcurrentSQLite(b *testing.B) {
	for _, writers := range []int{1, 8} {
		for _, grouped := range []bool{true, false} {
			name := map[bool]string{true: "group", false: "single"}[grouped]
			b.Run(fmt.Sprintf("writers=%d/%s", writers, name), func(b *testing.B) {
				benchmarkInTxConcurrent(b, writers, grouped)
			})
		}
	}
}

func benchmarkInTxConcurrent(b *testing.B, writers int, grouped bool) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(b.TempDir(), "bench.db"), NoGroupCommit: !grouped})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, migrations("items", 1)); err != nil {
		b.Fatal(err)
	}
	commits := store.GroupCommits(db)
	var (
		next  atomic.Int64
		mu    sync.Mutex
		lat   = make([]time.Duration, 0, b.N)
		wg    sync.WaitGroup
		errs  = make(chan error, writers)
		total = int64(b.N)
	)
	b.ResetTimer()
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/writers+1)
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				start := time.Now()
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO items (id, qty) VALUES ($1, $2)`, fmt.Sprintf("item_%d", i), i)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if grouped {
		b.ReportMetric(float64(b.N)/float64(store.GroupCommits(db)-commits), "calls/commit")
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		b.ReportMetric(float64(sum)/float64(len(lat)), "mean-ns")
		b.ReportMetric(float64(lat[len(lat)*50/100]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
		b.ReportMetric(float64(lat[len(lat)*999/1000]), "p99.9-ns")
		b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
	}
}
