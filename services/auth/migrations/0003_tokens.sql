-- ES256 signing keys. private_key_enc is the PKCS#8 key sealed with
-- AES-256-GCM under a key derived from the key-encryption key. The newest
-- key not retired signs; a retired key stays in the JWKS until
-- publish_until_ms, when every token it signed has expired.
CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY,
    private_key_enc  TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    retired_at_ms    BIGINT NULL,
    publish_until_ms BIGINT NULL
);

-- A refresh-token family: one login (or step-up) and every refresh token
-- rotated from it. Presenting a used token revokes the whole family.
CREATE TABLE token_families (
    id            TEXT PRIMARY KEY,
    citizen_id    TEXT NOT NULL REFERENCES citizens (id),
    acr           TEXT NOT NULL,
    amr           TEXT NOT NULL,
    auth_time_ms  BIGINT NOT NULL,
    azp           TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP NULL,
    revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX token_families_citizen ON token_families (citizen_id);

-- Refresh tokens are opaque random strings; only their HMAC is stored.
CREATE TABLE refresh_tokens (
    token_mac     TEXT PRIMARY KEY,
    family_id     TEXT NOT NULL REFERENCES token_families (id),
    expires_at_ms BIGINT NOT NULL,
    used_at       TIMESTAMP NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Failed-login counters, per account ("acct:" + HMAC of the national ID,
-- whether or not an account has it) and per source ("src:" + HMAC of the
-- address).
CREATE TABLE login_throttle (
    throttle_key    TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL DEFAULT 0
);
