-- Authorization requests of the code flow (issue 14). A request is bound
-- to the browser that made it (binding_mac: the MAC of a random cookie)
-- and counted per source (source_mac) against floods. Once the citizen is
-- authenticated it holds who (citizen_id), how (acr, amr, auth_time_ms)
-- and the session (session_id, the sid); then its code, stored as a MAC
-- like refresh tokens, lives 60 s and is consumed once (UPDATE … WHERE
-- code_used_at IS NULL). family_id is the token family the code gave, so
-- that a second use of the code can end it (RFC 6749 section 4.1.2).
CREATE TABLE auth_requests (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT '',
    nonce            TEXT NOT NULL DEFAULT '',
    code_challenge   TEXT NOT NULL,
    acr_values       TEXT NOT NULL DEFAULT '',
    max_age_s        BIGINT NOT NULL DEFAULT -1,
    prompt           TEXT NOT NULL DEFAULT '',
    ui_locales       TEXT NOT NULL DEFAULT '',
    binding_mac      TEXT NOT NULL,
    source_mac       TEXT NOT NULL,
    citizen_id       TEXT NOT NULL DEFAULT '',
    acr              TEXT NOT NULL DEFAULT '',
    amr              TEXT NOT NULL DEFAULT '',
    auth_time_ms     BIGINT NOT NULL DEFAULT 0,
    session_id       TEXT NOT NULL DEFAULT '',
    otp_challenge_id TEXT NOT NULL DEFAULT '',
    code_mac         TEXT NULL UNIQUE,
    code_expires_ms  BIGINT NOT NULL DEFAULT 0,
    code_used_at     TIMESTAMP NULL,
    family_id        TEXT NOT NULL DEFAULT '',
    created_at_ms    BIGINT NOT NULL,
    expires_at_ms    BIGINT NOT NULL
);
CREATE INDEX auth_requests_source ON auth_requests (source_mac, created_at_ms);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at_ms);

-- Single sign-on: a browser's cookie holds a random value whose MAC is
-- token_mac; it names the session (sid) and the last authentication made
-- in that browser. last_seen_ms bounds idleness, expires_at_ms the whole
-- life.
CREATE TABLE sso_sessions (
    token_mac     TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    citizen_id    TEXT NOT NULL,
    acr           TEXT NOT NULL,
    amr           TEXT NOT NULL,
    auth_time_ms  BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sso_sessions_session ON sso_sessions (session_id);

-- The OpenID scopes granted to a family of the code flow (openid profile
-- phone email): its access tokens carry them and userinfo answers by them.
ALTER TABLE token_families ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
