package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of an item's history (versions, transitions) and of roles.

// versionInfos lists up to limit of item id's versions, newest first.
func versionInfos(ctx context.Context, q store.Querier, id string, limit, offset int) ([]VersionInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, saved_by, saved_at FROM content_versions WHERE item_id = $1
		ORDER BY version DESC LIMIT $2 OFFSET $3`, id, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", id, err)
	}
	return store.CollectRows(rows, func(r store.Row) (VersionInfo, error) {
		var v VersionInfo
		err := r.Scan(&v.Version, &v.SavedBy, store.ScanTime(&v.SavedAt))
		return v, err
	})
}

// transitions returns item id's workflow history, oldest first.
func transitions(ctx context.Context, q store.Querier, id string) ([]TransitionRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT action, from_state, to_state, actor, comment, version, at
		FROM content_transitions WHERE item_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s: %w", id, err)
	}
	return store.CollectRows(rows, func(r store.Row) (TransitionRecord, error) {
		var t TransitionRecord
		err := r.Scan(&t.Action, &t.From, &t.To, &t.Actor, &t.Comment, &t.Version, store.ScanTime(&t.Time))
		return t, err
	})
}

// upsertRole grants subject role r in ministry (again: a no-op) and
// returns the grant.
func upsertRole(ctx context.Context, q store.Querier, ministry, subject string, r Role, grantor string, now time.Time) (RoleGrant, error) {
	var g RoleGrant
	err := q.QueryRowContext(ctx, `INSERT INTO content_roles (ministry, subject, role, granted_by, granted_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ministry, subject, role) DO UPDATE SET role = excluded.role
		RETURNING ministry, subject, role, granted_at`, ministry, subject, string(r), grantor, now).
		Scan(&g.Ministry, &g.Subject, &g.Role, store.ScanTime(&g.GrantTime))
	return g, err
}

// deleteRole revokes subject's role r in ministry; false means it was not held.
func deleteRole(ctx context.Context, q store.Querier, ministry, subject string, r Role) (bool, error) {
	return store.ChangedAny(q.ExecContext(ctx, `DELETE FROM content_roles WHERE ministry = $1 AND subject = $2 AND role = $3`, ministry, subject, string(r)))
}
