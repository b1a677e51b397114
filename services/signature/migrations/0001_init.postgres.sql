-- The CA material: certificates and how to reach each private key.
CREATE TABLE pki_objects (
	name        TEXT PRIMARY KEY,
	cert_der    BYTEA NOT NULL,
	key_store   TEXT NOT NULL,
	key_ref     TEXT NOT NULL DEFAULT '',
	key_sealed  BYTEA NULL,
	created_at  TIMESTAMP NOT NULL
);

CREATE TABLE credentials (
	id                TEXT PRIMARY KEY,
	owner             TEXT NOT NULL,
	owner_kind        TEXT NOT NULL,
	status            TEXT NOT NULL,
	key_algorithm     TEXT NOT NULL,
	key_sealed        BYTEA NOT NULL,
	cert_der          BYTEA NOT NULL,
	serial            TEXT NOT NULL UNIQUE,
	subject           TEXT NOT NULL,
	description       TEXT NOT NULL DEFAULT '',
	not_before        TIMESTAMP NOT NULL,
	not_after         TIMESTAMP NOT NULL,
	created_at        TIMESTAMP NOT NULL,
	revoked_at        TIMESTAMP NULL,
	revocation_reason TEXT NOT NULL DEFAULT '',
	revoked_by        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX credentials_owner ON credentials (owner, created_at, id);
CREATE INDEX credentials_revoked ON credentials (revoked_at) WHERE revoked_at IS NOT NULL;

-- Signature activation data: single use, bound to a credential, an owner
-- and the authorised hashes. Only an HMAC of the secret is kept.
CREATE TABLE sads (
	id             TEXT PRIMARY KEY,
	secret_mac     BYTEA NOT NULL,
	credential_id  TEXT NOT NULL REFERENCES credentials (id),
	owner          TEXT NOT NULL,
	hash_algorithm TEXT NOT NULL,
	hashes         TEXT NOT NULL,
	created_at     TIMESTAMP NOT NULL,
	expires_at     TIMESTAMP NOT NULL,
	used_at        TIMESTAMP NULL
);
CREATE INDEX sads_expires_at ON sads (expires_at);

CREATE TABLE signatures (
	id             TEXT PRIMARY KEY,
	credential_id  TEXT NOT NULL REFERENCES credentials (id),
	owner          TEXT NOT NULL,
	format         TEXT NOT NULL,
	hash_algorithm TEXT NOT NULL,
	digest         TEXT NOT NULL,
	document_name  TEXT NOT NULL DEFAULT '',
	signing_time   TIMESTAMP NOT NULL,
	created_at     TIMESTAMP NOT NULL
);

-- Monotonic counters: TSA serial numbers (handed out in blocks), CRL numbers.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('tsa_serial', 0), ('crl_number', 0);

CREATE TABLE crls (
	number      BIGINT PRIMARY KEY,
	der         BYTEA NOT NULL,
	this_update TIMESTAMP NOT NULL,
	next_update TIMESTAMP NOT NULL
);

-- Identity-proofing levels learnt from the auth enabler's events.
CREATE TABLE citizen_proofing (
	citizen_id     TEXT PRIMARY KEY,
	proofing_level TEXT NOT NULL,
	updated_at     TIMESTAMP NOT NULL
);
