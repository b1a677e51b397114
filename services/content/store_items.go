package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of items' workflow: creation, listing, versions and state
// changes. The conditional updates report whether they changed the row, so
// that the caller can answer a concurrent change with a conflict.

// insertItem creates the row of a new draft item at version 1.
func insertItem(ctx context.Context, q store.Querier, id string, t Type, ministry, actor string, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO content_items (id, type, ministry, state, version, created_at, created_by, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, 1, $5, $6, $5, $6)`, id, string(t), ministry, string(StateDraft), now, actor)
	return err
}

// itemIDs lists the ids of ministry's items, newest first, optionally of
// one type and in one state ("" for any).
func itemIDs(ctx context.Context, q store.Querier, ministry, typ, state string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM content_items WHERE ministry = $1
			AND ($2 = '' OR type = $2) AND ($3 = '' OR state = $3) ORDER BY created_at DESC, id`, ministry, typ, state)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return store.CollectColumn[string](rows)
}

// bumpVersion moves item id from version base to v as a draft, cancelling
// any schedule; false means the item is no longer at base.
func bumpVersion(ctx context.Context, q store.Querier, id string, base, v int, now time.Time, actor string) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE content_items SET version = $3, state = $4, publish_at = NULL, updated_at = $5, updated_by = $6
			WHERE id = $1 AND version = $2`, id, base, v, string(StateDraft), now, actor))
}

// setState moves item id at version from state from to to; clear also
// withdraws its public version and schedule. false means the item changed.
func setState(ctx context.Context, q store.Querier, id string, version int, from, to State, clear bool, now time.Time, actor string) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE content_items SET state = $3, updated_at = $4, updated_by = $5,
			published_version = CASE WHEN $6 THEN 0 ELSE published_version END,
			publish_at = CASE WHEN $6 THEN NULL ELSE publish_at END,
			expire_at = CASE WHEN $6 THEN NULL ELSE expire_at END
			WHERE id = $1 AND state = $2 AND version = $7`, id, string(from), string(to), now, actor, clear, version))
}

// authorsOf returns who saved version of item id and who last submitted
// it ("" if nobody did).
func authorsOf(ctx context.Context, q store.Querier, id string, version int) (savedBy, submitter string, err error) {
	err = q.QueryRowContext(ctx, `SELECT v.saved_by, COALESCE((SELECT t.actor FROM content_transitions t
		WHERE t.item_id = v.item_id AND t.version = v.version AND t.action = $3 ORDER BY t.seq DESC LIMIT 1), '')
		FROM content_versions v WHERE v.item_id = $1 AND v.version = $2`, id, version, string(ActionSubmit)).Scan(&savedBy, &submitter)
	return savedBy, submitter, err
}

// setSchedule records when item id at version is to be published and
// expire (zero: never); false means the item changed.
func setSchedule(ctx context.Context, q store.Querier, id string, version int, publishAt, expireAt, now time.Time, actor string) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE content_items SET publish_at = $3, expire_at = $4, updated_at = $5, updated_by = $6
				WHERE id = $1 AND version = $2`, id, version, publishAt, nullTime(expireAt), now, actor))
}

// markPublished makes it's current version the published one, if it is
// still at that version and state; false means it changed.
func markPublished(ctx context.Context, q store.Querier, it Item, expireAt, at time.Time, actor string) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE content_items SET state = $3, published_version = version, publish_at = NULL,
		expire_at = $4, updated_at = $5, updated_by = $6 WHERE id = $1 AND version = $2 AND state = $7`,
		it.ID, it.Version, string(StatePublished), nullTime(expireAt), at, actor, string(it.State)))
}
