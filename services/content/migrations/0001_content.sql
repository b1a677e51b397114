-- Roles are granted per ministry to token subjects: a staff member's
-- citizen id or a ministry app's client id.
CREATE TABLE content_roles (
	ministry   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	role       TEXT NOT NULL CHECK (role IN ('author', 'editor', 'publisher')),
	granted_by TEXT NOT NULL,
	granted_at TIMESTAMP NOT NULL,
	PRIMARY KEY (ministry, subject, role)
);
CREATE INDEX content_roles_subject ON content_roles (subject, ministry);

-- One row per item: its latest version and workflow state, the version
-- the public sees (0: none) and its schedule.
CREATE TABLE content_items (
	id                TEXT PRIMARY KEY,
	type              TEXT NOT NULL,
	ministry          TEXT NOT NULL,
	state             TEXT NOT NULL,
	version           INTEGER NOT NULL,
	published_version INTEGER NOT NULL DEFAULT 0,
	publish_at        TIMESTAMP NULL,
	expire_at         TIMESTAMP NULL,
	created_at        TIMESTAMP NOT NULL,
	created_by        TEXT NOT NULL,
	updated_at        TIMESTAMP NOT NULL,
	updated_by        TEXT NOT NULL
);
CREATE INDEX content_items_list ON content_items (ministry, id);
CREATE INDEX content_items_publish_at ON content_items (publish_at);
CREATE INDEX content_items_expire_at ON content_items (expire_at);

-- Versions are immutable: rows are only ever inserted.
CREATE TABLE content_versions (
	item_id  TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
	version  INTEGER NOT NULL,
	content  TEXT NOT NULL,
	saved_by TEXT NOT NULL,
	saved_at TIMESTAMP NOT NULL,
	PRIMARY KEY (item_id, version)
);

-- Every workflow step, with who, when and the comment.
CREATE TABLE content_transitions (
	item_id    TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	action     TEXT NOT NULL,
	from_state TEXT NOT NULL,
	to_state   TEXT NOT NULL,
	actor      TEXT NOT NULL,
	comment    TEXT NOT NULL DEFAULT '',
	version    INTEGER NOT NULL,
	at         TIMESTAMP NOT NULL,
	PRIMARY KEY (item_id, seq)
);

-- A slug, once used by an item in any version, stays that item's: public
-- URLs never change owner.
CREATE TABLE content_slugs (
	slug    TEXT PRIMARY KEY,
	item_id TEXT NOT NULL REFERENCES content_items (id) ON DELETE CASCADE
);

-- The public projection: one row per live item and language, written when
-- an item is published and deleted when it is unpublished, expires or is
-- archived. The public API reads nothing else, so a draft cannot leak.
CREATE TABLE content_public (
	item_id      TEXT NOT NULL,
	lang         TEXT NOT NULL,
	slug         TEXT NOT NULL,
	ministry     TEXT NOT NULL,
	type         TEXT NOT NULL,
	tags         TEXT NOT NULL,
	version      INTEGER NOT NULL,
	publish_time TIMESTAMP NOT NULL,
	expire_at    TIMESTAMP NULL,
	doc          TEXT NOT NULL,
	etag         TEXT NOT NULL,
	snippet_text TEXT NOT NULL,
	PRIMARY KEY (item_id, lang)
);
CREATE INDEX content_public_slug ON content_public (slug);
CREATE INDEX content_public_list ON content_public (lang, publish_time, item_id);
CREATE TABLE content_public_tags (
	item_id TEXT NOT NULL,
	tag     TEXT NOT NULL,
	PRIMARY KEY (tag, item_id)
);

-- Named leases so that one replica at a time runs the scheduler.
CREATE TABLE content_leases (
	name     TEXT PRIMARY KEY,
	holder   TEXT NOT NULL,
	until_ms BIGINT NOT NULL
);
