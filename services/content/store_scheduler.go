package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of the scheduler: which items are due, and the conditional
// updates that let one replica act on each.

// The scheduler's two queries for dueIDs: items whose publication, or
// whose expiry, is due at $1, a batch of $2.
const (
	publishDueSQL = `SELECT id FROM content_items WHERE publish_at IS NOT NULL AND publish_at <= $1 ORDER BY publish_at, id LIMIT $2`
	expireDueSQL  = `SELECT id FROM content_items WHERE expire_at IS NOT NULL AND expire_at <= $1 AND published_version > 0 ORDER BY expire_at, id LIMIT $2`
)

// dueIDs runs query (publishDueSQL or expireDueSQL) for a batch of ids due at now.
func (s *Service) dueIDs(ctx context.Context, query string, now time.Time) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, query, now, scheduleBatch)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return store.CollectColumn[string](rows)
}

// dropSchedule cancels item id's publication scheduled at publishAt.
func dropSchedule(ctx context.Context, q store.Querier, id string, publishAt time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE content_items SET publish_at = NULL WHERE id = $1 AND publish_at = $2`, id, publishAt)
	return err
}

// markExpired moves it, published and due to expire, to state to; false
// means another replica (or an editor) changed it first.
func markExpired(ctx context.Context, q store.Querier, it Item, to State) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE content_items SET state = $3, published_version = 0, expire_at = NULL,
			updated_at = $4, updated_by = $5 WHERE id = $1 AND state = $2 AND expire_at = $6 AND published_version = $7`,
		it.ID, string(it.State), string(to), it.ExpireAt, SchedulerActor, it.ExpireAt, it.PublishedVersion))
}
