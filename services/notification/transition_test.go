package notification

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestStatusChangesOnce: two handlers that read the same row (a receipt
// settled by the receipt handler and again after the send recorded its
// ids) both try to move it to delivered; only the first update takes, so
// the status history, the status event and the metrics count it once.
// Before, the optimistic check left the status out and both took.
func TestStatusChangesOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		from := Notification{ID: "ntf_race", EventID: "ntf_race", CommandID: "ntf_race", ClientID: "moh", Channel: ChannelSMS, Lane: LaneBulk,
			TemplateID: "tpl", Language: "en", Recipient: "+970599000001", Body: "Hello", Encoding: "gsm7", Segments: 1,
			Status: StatusSending, submission: submissionAccepted, Attempts: 1, ExpireAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertNotification(ctx, tx, from) }); err != nil {
			t.Fatal(err)
		}
		next := from
		next.Status, next.CompletedAt = StatusDelivered, now
		took := 0
		for range 2 {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				ok, err := updateNotification(ctx, tx, next, from.Status, from.submission, from.Attempts)
				if ok {
					took++
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if took != 1 {
			t.Fatalf("two updates from the same read took %d times; want once", took)
		}
	})
}
