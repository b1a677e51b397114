-- Web origins (issue 17): the scheme://host[:port] origins of a client's
-- browser pages, space-separated, serialized as browsers send them (lower
-- case, no default port). The gateway answers CORS on the authenticated
-- API only for them, and only for this client's tokens.
ALTER TABLE clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
