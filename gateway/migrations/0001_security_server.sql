-- The gateway's own tables: per-client access rights, the audit log (a
-- hash chain per gateway node, its head and the RFC 3161 time-stamps of
-- heads) and daily usage for charge-back. Portable SQL: both engines.

-- gateway_rights: one row per (client, service, operation); "*" is a
-- wildcard. templates, departments and ministries narrow the right to the
-- listed ids (comma-separated; empty: not narrowed).
CREATE TABLE gateway_rights (
    client_id   TEXT NOT NULL,
    service     TEXT NOT NULL,
    operation   TEXT NOT NULL,
    templates   TEXT NOT NULL DEFAULT '',
    departments TEXT NOT NULL DEFAULT '',
    ministries  TEXT NOT NULL DEFAULT '',
    granted_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, service, operation)
);

-- gateway_audit: one record per call. hash = SHA-256 over the previous
-- record's hash and this record's fields (see audit.go, canonical form v1).
CREATE TABLE gateway_audit (
    chain         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    at            TIMESTAMP NOT NULL,
    at_us         BIGINT NOT NULL,
    request_id    TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    subject       TEXT NOT NULL,
    route         TEXT NOT NULL,
    rpc           TEXT NOT NULL,
    status        INTEGER NOT NULL,
    latency_us    BIGINT NOT NULL,
    request_hash  TEXT NOT NULL,
    response_hash TEXT NOT NULL,
    source        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX gateway_audit_at ON gateway_audit (at);
CREATE INDEX gateway_audit_request ON gateway_audit (request_id);

-- gateway_audit_heads: the last record of each chain, written in the same
-- transaction as the records, so that deleting the tail is noticed.
CREATE TABLE gateway_audit_heads (
    chain TEXT PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);

-- gateway_audit_stamps: an RFC 3161 TimeStampToken (DER, base64) whose
-- message imprint is the SHA-256 hash of record (chain, seq).
CREATE TABLE gateway_audit_stamps (
    chain      TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL,
    token      TEXT NOT NULL,
    stamped_at TIMESTAMP NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- gateway_usage: metered units per UTC day, client and item
-- ("call:payment/CreatePayment", "sms_segments", "payments", ...); amount
-- is in minor units of currency (payments only).
CREATE TABLE gateway_usage (
    day       TEXT NOT NULL,
    client_id TEXT NOT NULL,
    item      TEXT NOT NULL,
    currency  TEXT NOT NULL DEFAULT '',
    quantity  BIGINT NOT NULL,
    amount    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, client_id, item, currency)
);
