package content

import (
	"context"
	"fmt"
)

// ministryKnown reports whether the enabler knows ministry: a role has
// been granted in it or an item created in it. Both lookups use the
// leading column of an index (content_roles' key, content_items_list).
func ministryKnown(ctx context.Context, q querier, ministry string) (bool, error) {
	var known bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM content_roles WHERE ministry = $1)
		OR EXISTS (SELECT 1 FROM content_items WHERE ministry = $1)`, ministry).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("ministry %s: %w", ministry, err)
	}
	return known, nil
}
