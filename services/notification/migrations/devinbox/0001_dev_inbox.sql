-- The dev inbox: what the dev provider would have sent, for GET /dev/inbox.
-- Applied only by `tamkeen dev`; production databases never have it.
CREATE TABLE dev_inbox (
    id         TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    html       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX dev_inbox_recipient ON dev_inbox (recipient, created_at);
