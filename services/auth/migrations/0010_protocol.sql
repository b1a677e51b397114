-- Protocol features of the OpenID Provider (issue 14, second slice).
--
-- Clients: a confidential client may authenticate with private_key_jwt
-- (RFC 7523) against the keys it registered, inline (jwks, a JWK Set as
-- JSON) or by URL (jwks_uri); it may register a back-channel logout URI
-- (OpenID Connect Back-Channel Logout 1.0) and ask for RS256 ID tokens
-- (id_token_alg: '' is ES256).
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

-- The jti of every client assertion accepted, until the assertion
-- expires: a second use is refused (RFC 7523 section 3, item 7).
-- PruneOutbox deletes the expired ones.
CREATE TABLE client_assertions (
    jti_mac       TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at_ms);

-- Pushed authorization requests (RFC 9126): the parameters a confidential
-- client pushed, named by the MAC of the request_uri's random part, valid
-- 60 s and used once at the authorization endpoint.
CREATE TABLE pushed_requests (
    uri_mac       TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL,
    params        TEXT NOT NULL,
    used_at       TIMESTAMP NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at_ms);
