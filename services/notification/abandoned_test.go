package notification

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestAbandonedBulkUploadsAreSwept: a job still validating twice
// BulkUploadTimeout after it was created was left by a process that died
// mid-upload (a live upload is cancelled at BulkUploadTimeout); the sweep
// deletes it with the recipients its upload stored, keeps a younger one and
// never touches a validated job; an upload finishing after the sweep took
// its job is told so (DEADLINE_EXCEEDED) instead of answering with a job
// that no longer exists.
func TestAbandonedBulkUploadsAreSwept(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		migrate(t, db)
		now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		cfg := DefaultConfig()
		if cfg.BulkUploadTimeout != 30*time.Minute {
			t.Fatalf("BulkUploadTimeout default %v; the ages below assume 30m", cfg.BulkUploadTimeout)
		}
		s := limitService(db, cfg, func() time.Time { return now })
		for _, j := range []struct {
			id    string
			age   time.Duration
			state string
		}{
			{"blk_dead", 61 * time.Minute, bulkValidating},
			{"blk_young", 59 * time.Minute, bulkValidating},
			{"blk_sending", 5 * time.Hour, bulkSending},
		} {
			job := BulkJob{ID: j.id, ClientID: "moh", TemplateID: "tpl_1", TemplateVersion: 1, Channel: ChannelSMS, CreatedAt: store.Stamp(now.Add(-j.age))}
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				if err := insertBulkJob(ctx, tx, job, j.state); err != nil {
					return err
				}
				return insertRecipients(ctx, tx, j.id, []bulkRecipient{{line: 2, n: Notification{Recipient: "+970599000001", Body: "x", Encoding: GSM7, Segments: 1, Country: "PS"}}})
			}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.pruneAbandonedUploads(ctx)
		if err != nil || n != 1 {
			t.Fatalf("pruneAbandonedUploads = %d, %v; want 1", n, err)
		}
		for id, want := range map[string]int{"blk_dead": 0, "blk_young": 1, "blk_sending": 1} {
			if got := countRows(t, db, "bulk_jobs", "id = $1", id); got != want {
				t.Errorf("bulk_jobs %s: %d rows; want %d", id, got, want)
			}
			if got := countRows(t, db, "bulk_recipients", "job_id = $1", id); got != want {
				t.Errorf("bulk_recipients of %s: %d rows; want %d", id, got, want)
			}
		}
		err = db.InTx(ctx, func(tx *sql.Tx) error { return finishUpload(ctx, tx, "blk_dead", bulkSending, 1, 0) })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("finishing the swept upload = %v; want DEADLINE_EXCEEDED", err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return finishUpload(ctx, tx, "blk_young", bulkSending, 1, 0) }); err != nil {
			t.Errorf("finishing the young upload: %v", err)
		}
	})
}
