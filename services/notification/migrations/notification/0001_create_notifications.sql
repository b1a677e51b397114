-- One row per message the service accepted, whatever became of it. The body
-- is stored with secret values (OTP codes) redacted: the code itself lives
-- only in the short-lived command stream and in memory while sending.
CREATE TABLE notifications (
    id                  TEXT PRIMARY KEY,
    -- event_id is the command's CloudEvents id: a redelivered command finds
    -- its row by it.
    event_id            TEXT NOT NULL,
    command_id          TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    reference           TEXT NOT NULL,
    channel             TEXT NOT NULL,
    lane                TEXT NOT NULL,
    template_id         TEXT NOT NULL,
    language            TEXT NOT NULL,
    recipient           TEXT NOT NULL,
    body                TEXT NOT NULL,
    encoding            TEXT NOT NULL,
    segments            INTEGER NOT NULL,
    status              TEXT NOT NULL,
    failure_reason      TEXT NOT NULL,
    -- submission is the send's own state: none (not handed to a provider),
    -- in_flight (handed, outcome not yet recorded) or accepted.
    submission          TEXT NOT NULL,
    attempts            INTEGER NOT NULL,
    provider            TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    expire_at           TIMESTAMP NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP NULL,
    completed_at        TIMESTAMP NULL
);
CREATE UNIQUE INDEX notifications_event ON notifications (event_id);
CREATE INDEX notifications_client_reference ON notifications (client_id, reference);
CREATE INDEX notifications_status ON notifications (status, updated_at);
