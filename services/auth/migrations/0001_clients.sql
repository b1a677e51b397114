-- Ministry applications: OAuth 2.0 clients (client_credentials).
-- secret_hash is an argon2id PHC string; the secret itself is never stored.
-- scopes is space-separated, as in OAuth 2.0.
CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
