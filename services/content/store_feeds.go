package content

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// ministryKnown reports whether the enabler knows ministry: a role has
// been granted in it or an item created in it. Both lookups use the
// leading column of an index (content_roles' key, content_items_list).
func ministryKnown(ctx context.Context, q store.Querier, ministry string) (bool, error) {
	var known bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM content_roles WHERE ministry = $1)
		OR EXISTS (SELECT 1 FROM content_items WHERE ministry = $1)`, ministry).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("ministry %s: %w", ministry, err)
	}
	return known, nil
}

// feedItems returns up to limit unexpired public rows of f.Ministry that
// f selects, one per item, newest first: the rows in lang, and the rows
// in other of the items that lack lang. It selects what listPublic with
// a ministry does, but as two arms that each walk content_public_list
// (lang, publish_time, item_id) newest first and stop at limit, so a
// feed costs about limit rows rather than a sort of every public row.
// Items published at the same instant come in item_id descending order
// (the index's), where the list has them ascending.
func feedItems(ctx context.Context, q store.Querier, lang, other string, f FeedFilter, now time.Time, limit int) ([]PublicContent, error) {
	// Each arm's ORDER BY spells out the whole index, lang included,
	// so that both engines read it backwards instead of sorting.
	arm := func(alias, cond string) string {
		return `SELECT ` + publicColumns + ` FROM (SELECT ` + publicColumns + ` FROM content_public p
			WHERE ` + cond + ` AND p.ministry = $3 AND ($4 = '' OR p.type = $4)
			AND ($5 = '' OR EXISTS (SELECT 1 FROM content_public_tags t WHERE t.item_id = p.item_id AND t.tag = $5))
			AND (p.expire_at IS NULL OR p.expire_at > $6)
			ORDER BY p.lang DESC, p.publish_time DESC, p.item_id DESC LIMIT $7) ` + alias
	}
	rows, err := q.QueryContext(ctx, arm("own", `p.lang = $1`)+` UNION ALL `+
		arm("fallback", `p.lang = $2 AND NOT EXISTS (SELECT 1 FROM content_public q WHERE q.item_id = p.item_id AND q.lang = $1)`)+
		` ORDER BY publish_time DESC, item_id DESC LIMIT $7`,
		lang, other, f.Ministry, f.Type, f.Tag, now, limit)
	if err != nil {
		return nil, fmt.Errorf("feed items: %w", err)
	}
	return store.CollectRows(rows, scanPublic)
}
