-- Issue 4: the public API (client templates, e-mail, bulk jobs), delivery
-- receipts, status callbacks and metering.
ALTER TABLE notifications ADD COLUMN template_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN html TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN bulk_job_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN country TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_recipient_time ON notifications (recipient, created_at);
CREATE INDEX notifications_client_time ON notifications (client_id, created_at);
CREATE INDEX notifications_bulk ON notifications (bulk_job_id, status);

-- Every version of every client template; the newest is the current one.
CREATE TABLE templates (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    client_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    language    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX templates_client ON templates (client_id, id);

-- The provider's message id of each SMS part (an SMSC gives one per part)
-- and the receipts that came for them, in whatever order the two arrive.
CREATE TABLE sms_parts (
    provider        TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    part            INTEGER NOT NULL,
    PRIMARY KEY (provider, message_id)
);
CREATE INDEX sms_parts_notification ON sms_parts (notification_id);
CREATE TABLE sms_receipts (
    provider     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    state        TEXT NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, message_id)
);

CREATE TABLE bulk_jobs (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    reference        TEXT NOT NULL,
    total            INTEGER NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX bulk_jobs_client ON bulk_jobs (client_id, created_at);

-- Status callbacks waiting to be POSTed to a client's URL.
CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    state           TEXT NOT NULL,
    next_at         TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (state, next_at);

-- Charge-back: per client per UTC day, by channel and destination country.
CREATE TABLE usage_daily (
    client_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    channel    TEXT NOT NULL,
    country    TEXT NOT NULL,
    messages   INTEGER NOT NULL,
    segments   INTEGER NOT NULL,
    PRIMARY KEY (client_id, day, channel, country)
);
