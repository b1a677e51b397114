package content

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of the public side: the published rows, their tags and the
// search index, which the workflow replaces on publication.

// deletePublic removes item id's public rows and search index.
func deletePublic(ctx context.Context, tx *sql.Tx, id string) error {
	for _, table := range []string{"content_public", "content_public_tags", "content_search"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE item_id = $1`, id); err != nil {
			return fmt.Errorf("take down %s: %w", id, err)
		}
	}
	return nil
}

// insertPublic writes it's published row in lang.
func insertPublic(ctx context.Context, q store.Querier, it Item, lang, slug, tags string, at time.Time, doc, etag, snippet string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO content_public (item_id, lang, slug, ministry, type, tags, version, publish_time, expire_at, doc, etag, snippet_text)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		it.ID, lang, slug, it.Ministry, string(it.Type), tags, it.Version, at, nullTime(it.ExpireAt), doc, etag, snippet)
	return err
}

// insertSearch indexes item id's normalised text in lang.
func insertSearch(ctx context.Context, q store.Querier, id, lang, title, summary, body string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO content_search (item_id, lang, title, summary, body) VALUES ($1, $2, $3, $4, $5)`,
		id, lang, title, summary, body)
	return err
}

// insertPublicTag records one tag of published item id.
func insertPublicTag(ctx context.Context, q store.Querier, id, tag string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO content_public_tags (item_id, tag) VALUES ($1, $2)`, id, tag)
	return err
}

// publicBySlug returns the unexpired public rows (one per language) of the
// item that has slug in either language.
func publicBySlug(ctx context.Context, q store.Querier, slug string, now time.Time) ([]PublicContent, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+publicColumns+` FROM content_public WHERE item_id =
		(SELECT item_id FROM content_public WHERE slug = $1 LIMIT 1) AND (expire_at IS NULL OR expire_at > $2)`, slug, now)
	if err != nil {
		return nil, fmt.Errorf("public content: %w", err)
	}
	return store.CollectRows(rows, scanPublic)
}

// listPublic returns up to limit unexpired public rows that f selects,
// one per item (in lang when it has it), newest first.
func listPublic(ctx context.Context, q store.Querier, lang string, f PublicFilter, now time.Time, limit, offset int) ([]PublicContent, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+prefixed("p.", publicColumns)+` FROM content_public p
		WHERE `+langClause+` AND ($2 = '' OR p.ministry = $2) AND ($3 = '' OR p.type = $3)
		AND ($4 = '' OR EXISTS (SELECT 1 FROM content_public_tags t WHERE t.item_id = p.item_id AND t.tag = $4))
		AND (p.expire_at IS NULL OR p.expire_at > $5)
		ORDER BY p.publish_time DESC, p.item_id LIMIT $6 OFFSET $7`,
		lang, f.Ministry, f.Type, f.Tag, now, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list public content: %w", err)
	}
	return store.CollectRows(rows, scanPublic)
}

// searchSQL is the one query that differs between the engines. The
// full-text match runs first, in a subquery, so that the planner starts
// from the few matching rows rather than from the public table.
func (s *Service) searchSQL() string {
	match := `SELECT item_id, lang, title, summary, body FROM content_search WHERE content_search MATCH $2`
	if s.DB.Engine() == store.Postgres {
		match = `SELECT item_id, lang, title, summary, body FROM content_search WHERE tsv @@ plainto_tsquery('simple', $2)`
	}
	return `SELECT p.item_id, p.lang, p.title, p.summary, p.body, e.publish_time FROM (` + match + `) p
		JOIN content_public e ON e.item_id = p.item_id AND e.lang = p.lang
		WHERE ` + langClause + ` AND (e.expire_at IS NULL OR e.expire_at > $3)`
}

// searchMatches calls fn with each unexpired indexed row that matches
// match (the engine's full-text query) in lang.
func (s *Service) searchMatches(ctx context.Context, lang, match string, now time.Time, fn func(id, lang, title, summary, body string, published time.Time)) error {
	rows, err := s.DB.QueryContext(ctx, s.searchSQL(), lang, match, now)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, l, title, summary, body string
		var published time.Time
		if err := rows.Scan(&id, &l, &title, &summary, &body, store.ScanTime(&published)); err != nil {
			return err
		}
		fn(id, l, title, summary, body, published)
	}
	return rows.Err()
}

// publicWithSnippet returns item id's public row in lang and the text
// snippets are cut from.
func publicWithSnippet(ctx context.Context, q store.Querier, id, lang string) (PublicContent, string, error) {
	var text string
	pc, err := scanPublic(publicRow{q.QueryRowContext(ctx, `SELECT `+publicColumns+`, snippet_text FROM content_public
			WHERE item_id = $1 AND lang = $2`, id, lang), &text})
	return pc, text, err
}
