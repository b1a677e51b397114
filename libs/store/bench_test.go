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

	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// BenchmarkInTxConcurrentSQLite has 8 writers commit one INSERT each per
// InTx on one SQLite file at once, as the services' handlers do under load.
// ns/op is per commit (wall time over b.N commits); p50-ns and p99-ns are
// the latency of one InTx call as its caller sees it.
func BenchmarkInTxConcurrentSQLite(b *testing.B) {
	const writers = 8
	ctx := context.Background()
	db := storetest.SQLiteFile(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := db.Migrate(ctx, migrations("items", 1)); err != nil {
		b.Fatal(err)
	}
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
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*50/100]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	}
}
