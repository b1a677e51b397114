-- Issue 17 item 4: outbound webhooks. A client's endpoints (the URL, the
-- event types it wants, and the salts its signing secrets are derived from
-- with the service's callback key: the secrets themselves are stored
-- nowhere), the deliveries (one event to one endpoint, written in the
-- transaction that handles the event) and every attempt of each.
CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    client_id           TEXT NOT NULL,
    url                 TEXT NOT NULL,
    events              TEXT NOT NULL,
    secret_salt         TEXT NOT NULL,
    previous_salt       TEXT NOT NULL DEFAULT '',
    previous_expires_at TIMESTAMP,
    rotated_at          TIMESTAMP,
    created_at          TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id, created_at);

CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     TIMESTAMP NOT NULL,
    replay_of   TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          TIMESTAMP NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- Which client a payment belongs to, learnt from the payment events that
-- carry it, for the events that do not (payment.disputed carries the
-- public Payment message, which has no client id).
CREATE TABLE webhook_payments (
    payment_id TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL
);
