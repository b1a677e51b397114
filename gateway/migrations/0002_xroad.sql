-- X-Road / UXP provider side (xroad.go, docs/gateway.md "X-Road").

-- gateway_xroad_clients: the Tamkeen client each X-Road client (member or
-- subsystem, "INSTANCE/CLASS/MEMBER[/SUBSYSTEM]" decoded) acts as.
CREATE TABLE gateway_xroad_clients (
    xroad_client TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    mapped_at    TIMESTAMP NOT NULL
);

-- The X-Road ids of calls relayed by the security server. Records with
-- all three empty keep the canonical form v1; others are hashed in v2,
-- which appends them (audit.go ComputeHash).
ALTER TABLE gateway_audit ADD COLUMN xroad_client TEXT NOT NULL DEFAULT '';
ALTER TABLE gateway_audit ADD COLUMN xroad_id TEXT NOT NULL DEFAULT '';
ALTER TABLE gateway_audit ADD COLUMN xroad_user_id TEXT NOT NULL DEFAULT '';
