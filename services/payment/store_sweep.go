package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of the sweeper: which payments and refunds are due for its
// duties, oldest first, at most limit of each.

// expiredPaymentIDs are unpaid payments whose expiry is at or before now.
func expiredPaymentIDs(ctx context.Context, q querier, now time.Time, limit int) ([]string, error) {
	return sweepIDs(ctx, q, `SELECT id FROM payments WHERE state IN ('created', 'pending') AND expire_at <= $1 ORDER BY expire_at LIMIT $2`, now, limit)
}

// unsettledPaymentIDs are unfinished payments with a charge, unchanged
// since before.
func unsettledPaymentIDs(ctx context.Context, q querier, before time.Time, limit int) ([]string, error) {
	return sweepIDs(ctx, q, `SELECT id FROM payments WHERE state IN ('created', 'pending') AND provider_ref <> '' AND updated_at <= $1
		ORDER BY updated_at LIMIT $2`, before, limit)
}

// pendingRefundIDs are pending refunds unchanged since before.
func pendingRefundIDs(ctx context.Context, q querier, before time.Time, limit int) ([]string, error) {
	return sweepIDs(ctx, q, `SELECT id FROM refunds WHERE state = 'pending' AND updated_at <= $1 ORDER BY updated_at LIMIT $2`,
		before, limit)
}

// sweepIDs reads the ids query q selects.
func sweepIDs(ctx context.Context, db querier, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return store.CollectColumn[string](rows)
}
