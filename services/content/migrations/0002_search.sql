-- Search index (SQLite: FTS5). The columns hold terms already normalised
-- and stemmed in Go (see normalize.go), so the tokenizer only splits on
-- spaces; PostgreSQL's twin is 0002_search.postgres.sql.
CREATE VIRTUAL TABLE content_search USING fts5(
	item_id UNINDEXED,
	lang UNINDEXED,
	title,
	summary,
	body,
	tokenize = 'unicode61 remove_diacritics 0'
);
