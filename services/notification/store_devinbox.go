package notification

import (
	"context"
	"fmt"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of the dev inbox (dev mode only).

// insertInboxMessage stores m.
func insertInboxMessage(ctx context.Context, q store.Querier, m InboxMessage) error {
	_, err := q.ExecContext(ctx, `
INSERT INTO dev_inbox (id, channel, recipient, subject, body, html, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, m.Channel, m.To, m.Subject, m.Body, m.HTML, m.Time)
	return err
}

// listInbox returns the newest limit messages, to one recipient when to
// is not empty.
func listInbox(ctx context.Context, q store.Querier, to string, limit int) ([]InboxMessage, error) {
	rows, err := q.QueryContext(ctx, `
SELECT id, channel, recipient, subject, body, html, created_at FROM dev_inbox
WHERE $1 = '' OR recipient = $1
ORDER BY created_at DESC, id DESC LIMIT $2`, to, limit)
	if err != nil {
		return nil, fmt.Errorf("dev inbox: list: %w", err)
	}
	out, err := store.CollectRows(rows, func(r store.Row) (InboxMessage, error) {
		var m InboxMessage
		if err := r.Scan(&m.ID, &m.Channel, &m.To, &m.Subject, &m.Body, &m.HTML, &m.Time); err != nil {
			return m, fmt.Errorf("dev inbox: list: %w", err)
		}
		m.Time = m.Time.UTC()
		return m, nil
	})
	if out == nil && err == nil {
		out = []InboxMessage{} // the inbox page lists none as [], not null
	}
	return out, err
}
