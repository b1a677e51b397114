-- Search index (PostgreSQL: a tsvector with the 'simple' configuration,
-- which lower-cases and nothing else, over terms already normalised and
-- stemmed in Go, so both engines match the same items).
CREATE TABLE content_search (
	item_id TEXT NOT NULL,
	lang    TEXT NOT NULL,
	title   TEXT NOT NULL,
	summary TEXT NOT NULL,
	body    TEXT NOT NULL,
	tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || summary || ' ' || body)) STORED,
	PRIMARY KEY (item_id, lang)
);
CREATE INDEX content_search_tsv ON content_search USING GIN (tsv);
