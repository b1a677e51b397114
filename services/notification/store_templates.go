package notification

import (
	"context"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of client templates: one row per version, never updated.

const templateColumns = `id, client_id, version, name, channel, language, subject, body, created_at`

// insertTemplate writes version t.Version of template t, created at
// t.UpdatedAt; a unique violation means that version exists already.
func insertTemplate(ctx context.Context, q store.Querier, t ClientTemplate) error {
	_, err := q.ExecContext(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.ClientID, t.Version, t.Name, t.Channel, t.Language, t.Subject, t.Body, t.UpdatedAt)
	return err
}

// templateVersion reads version (0: the latest) of client's template id;
// the error is sql.ErrNoRows when there is none.
func templateVersion(ctx context.Context, q store.Querier, client, id string, version int) (ClientTemplate, error) {
	query := `SELECT ` + templateColumns + ` FROM templates WHERE id = $1 AND client_id = $2 AND version = $3`
	args := []any{id, client, version}
	if version == 0 {
		query = `SELECT ` + templateColumns + ` FROM templates WHERE id = $1 AND client_id = $2 ORDER BY version DESC LIMIT 1`
		args = args[:2]
	}
	return scanTemplate(q.QueryRowContext(ctx, query, args...))
}

// templateCreated returns when version 1 of template id was created.
func templateCreated(ctx context.Context, q store.Querier, id string) (time.Time, error) {
	var first time.Time
	err := q.QueryRowContext(ctx, `SELECT created_at FROM templates WHERE id = $1 AND version = 1`, id).Scan(store.ScanTime(&first))
	return first, err
}

// scanTemplate reads one row of templateColumns.
func scanTemplate(r scanner) (ClientTemplate, error) {
	var t ClientTemplate
	err := r.Scan(&t.ID, &t.ClientID, &t.Version, &t.Name, &t.Channel, &t.Language, &t.Subject, &t.Body, store.ScanTime(&t.UpdatedAt))
	t.CreatedAt = t.UpdatedAt
	return t, err
}

// listTemplates returns the latest version of up to limit of client's
// templates with ids after after, by id, of one channel and one language
// ("" for any).
func listTemplates(ctx context.Context, q store.Querier, client, channel, language, after string, limit int) ([]ClientTemplate, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.id, t.client_id, t.version, t.name, t.channel, t.language, t.subject, t.body, t.created_at
FROM templates t
WHERE t.client_id = $1 AND ($2 = '' OR t.channel = $2) AND ($3 = '' OR t.language = $3) AND t.id > $4
  AND t.version = (SELECT MAX(v.version) FROM templates v WHERE v.id = t.id)
ORDER BY t.id LIMIT $5`, client, channel, language, after, limit)
	if err != nil {
		return nil, fmt.Errorf("notification: list templates: %w", err)
	}
	return store.CollectRows(rows, scanTemplate)
}
