-- Issue 17: Idempotency-Key on SMS and e-mail sends and on bulk jobs, as
-- payments have it. One row per client, route (scope: send_sms,
-- send_email, create_bulk_job) and key: the fingerprint of the request
-- that claimed it and the notification or bulk job it made. Keys are kept
-- for --idempotency-ttl (24 h); an older one is taken over by the next
-- request and swept with the closed limit windows.
CREATE TABLE idempotency_keys (
    client_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
