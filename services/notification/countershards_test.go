package notification

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestCounterShardsMigrationKeepsCounts migrates a database that has a bulk
// job's progress and a day's usage in the single rows of migration 0007,
// and reads the same figures from the shards of 0008.
func TestCounterShardsMigrationKeepsCounts(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sets, err := Migrations()
		if err != nil {
			t.Fatal(err)
		}
		// The same sets, the service's own cut after 0007.
		var old []store.MigrationSet
		for _, set := range sets {
			if set.Component == "notification" {
				var upTo7 []store.Migration
				for _, m := range set.Migrations {
					if m.Version <= 7 {
						upTo7 = append(upTo7, m)
					}
				}
				if len(upTo7) != 7 {
					t.Fatalf("notification has %d migrations up to 0007; want 7", len(upTo7))
				}
				set.Migrations = upTo7
			}
			old = append(old, set)
		}
		if err := db.Migrate(ctx, old...); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO bulk_jobs (id, client_id, template_id, template_version, channel, reference, total, created_at, state,
	validated, queued, started, submitted, delivered, failed) VALUES ('blk_1', 'moh', 'tpl_1', 1, 'sms', '', 10, '2026-12-06 10:00:00', 'done',
	10, 10, 9, 8, 6, 2)`,
			`INSERT INTO usage_daily (client_id, day, channel, country, messages, segments) VALUES ('moh', '2026-12-06', 'sms', 'PS', 7, 9)`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx, sets...); err != nil {
			t.Fatal(err)
		}
		s := limitService(db, DefaultConfig(), time.Now)
		j, err := s.GetBulkJob(ctx, "moh", "blk_1")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("queued %d sent %d submitted %d delivered %d failed %d", j.Queued, j.Sent, j.Submitted, j.Delivered, j.Failed); got != "queued 1 sent 7 submitted 8 delivered 6 failed 2" {
			t.Errorf("after 0008: %s", got)
		}
		u, err := s.Usage(ctx, "moh", "2026-12-06", "2026-12-06")
		if err != nil || len(u) != 1 || u[0].Messages != 7 || u[0].Segments != 9 {
			t.Errorf("usage after 0008 = %+v, %v; want 7 messages, 9 segments", u, err)
		}
	})
}

// TestCounterShardsAddUp moves many messages of one job and one client
// concurrently, each adding to its shard, and reads the exact totals:
// the shards lose nothing to concurrency and the readers sum them.
func TestCounterShardsAddUp(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		migrate(t, db)
		if _, err := db.ExecContext(ctx, `INSERT INTO bulk_jobs (id, client_id, template_id, template_version, channel, reference, total, created_at,
	state, validated, queued) VALUES ('blk_1', 'moh', 'tpl_1', 1, 'sms', '', 200, '2026-12-06 10:00:00', 'done', 200, 200)`); err != nil {
			t.Fatal(err)
		}
		const workers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprintf("ntf_%d_%d", w, i)
					cs := []bulkCounter{counterStarted, counterSubmitted}
					if i%5 == 0 {
						cs = append(cs, counterFailed)
					} else {
						cs = append(cs, counterDelivered)
					}
					errs <- db.InTx(ctx, func(tx *sql.Tx) error {
						if err := addBulkCounters(ctx, tx, "blk_1", id, cs); err != nil {
							return err
						}
						return addUsage(ctx, tx, id, "moh", "2026-12-06", "sms", "PS", 2)
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var shards int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_job_counters WHERE job_id = 'blk_1'`).Scan(&shards); err != nil || shards < 2 {
			t.Errorf("the job's counters are in %d rows (%v); want several shards", shards, err)
		}
		s := limitService(db, DefaultConfig(), time.Now)
		j, err := s.GetBulkJob(ctx, "moh", "blk_1")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("queued %d sent %d submitted %d delivered %d failed %d", j.Queued, j.Sent, j.Submitted, j.Delivered, j.Failed); got != "queued 0 sent 160 submitted 200 delivered 160 failed 40" {
			t.Errorf("got %s", got)
		}
		u, err := s.Usage(ctx, "moh", "2026-12-06", "2026-12-06")
		if err != nil || len(u) != 1 || u[0].Messages != 200 || u[0].Segments != 400 {
			t.Errorf("usage = %+v, %v; want one line of 200 messages, 400 segments", u, err)
		}
	})
}
