-- One-time-code challenges: SMS codes (stored as HMAC-SHA256 under a key
-- derived from the key-encryption key, bound to the challenge id) and TOTP
-- checks. purpose is step_up or phone (registration's phone verification).
-- attempts is counted before a code is checked; used_at is set once, by
-- UPDATE … WHERE used_at IS NULL, so a code is consumed exactly once.
CREATE TABLE otp_challenges (
    id            TEXT PRIMARY KEY,
    citizen_id    TEXT NOT NULL REFERENCES citizens (id),
    purpose       TEXT NOT NULL,
    method        TEXT NOT NULL,
    code_mac      TEXT NOT NULL DEFAULT '',
    phone_number  TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    used_at       TIMESTAMP NULL
);
CREATE INDEX otp_challenges_phone ON otp_challenges (phone_number, created_at_ms);

-- TOTP recovery codes, HMACs only, each usable once.
CREATE TABLE recovery_codes (
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    code_mac   TEXT NOT NULL,
    used_at    TIMESTAMP NULL,
    PRIMARY KEY (citizen_id, code_mac)
);
