package notification

import (
	"context"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL every outbound queue shares (delivery.go): a row is claimed by
// one replica at a time and settled after each attempt. table is one of
// the queues' tables (callbacks, webhook_deliveries), never input.

// claimDelivery moves d's next time to until if no other replica took it
// since it was read at due, and reports whether this one did: a claim
// moves next_at past due, so of the replicas that read the row in the
// same round exactly one wins.
func claimDelivery(ctx context.Context, q store.Querier, table string, d dueDelivery, due, until time.Time) (bool, error) {
	return store.ChangedOne(q.ExecContext(ctx, `UPDATE `+table+` SET next_at = $1 WHERE id = $2 AND state = $3 AND attempts = $4 AND next_at <= $5`,
		until, d.id, deliveryPending, d.attempts, due))
}

// settleDelivery records row id's state, attempts and next time.
func settleDelivery(ctx context.Context, q store.Querier, table, id, state string, attempts int, next time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE `+table+` SET state = $1, attempts = $2, next_at = $3 WHERE id = $4`,
		state, attempts, next, id)
	return err
}
