-- Ministry clients gain the ministry they belong to (for charge-back and
-- the `tamkeen clients list` output).
ALTER TABLE clients ADD COLUMN ministry TEXT NOT NULL DEFAULT '';

-- Citizens. The national ID is stored twice, never in clear:
-- national_id_mac is HMAC-SHA256 under a key derived from the
-- key-encryption key (unique: it is how a login or a duplicate registration
-- finds the account), and national_id_enc is AES-256-GCM under another
-- derived key, read back only for ministry clients with citizens:read.
-- password_hash is an argon2id PHC string. Times that are compared in SQL
-- are Unix milliseconds (BIGINT), the same comparison on both engines.
CREATE TABLE citizens (
    id                 TEXT PRIMARY KEY,
    national_id_mac    TEXT NOT NULL UNIQUE,
    national_id_enc    TEXT NOT NULL,
    phone_number       TEXT NOT NULL,
    phone_verified     BOOLEAN NOT NULL DEFAULT FALSE,
    email              TEXT NOT NULL DEFAULT '',
    password_hash      TEXT NOT NULL,
    given_name         TEXT NOT NULL,
    family_name        TEXT NOT NULL,
    preferred_language TEXT NOT NULL,
    proofing_level     TEXT NOT NULL,
    proofed_by         TEXT NOT NULL DEFAULT '',
    proof_evidence     TEXT NOT NULL DEFAULT '',
    -- TOTP: the secret (AES-256-GCM), whether confirmed, and the last
    -- 30-second step accepted (a code of that step or earlier is refused).
    totp_secret_enc    TEXT NOT NULL DEFAULT '',
    totp_enabled       BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step     BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX citizens_phone_number ON citizens (phone_number);
