-- The hosted pages' account creation and password reset (issue 14): the
-- SMS challenge each one waits for, held per authorization request (so
-- per browser) and kind ('signup' or 'reset'). challenge_id may name no
-- challenge at all: a reset for an unknown national ID gets a random id
-- and the same pages, so the pages tell nobody whether an ID is
-- registered. citizen_id is the account a reset would send a new code to
-- ('' when none); it never leaves the server. sent_at_ms is when the last
-- code went (or seemed to go) out, for the resend countdown.
CREATE TABLE page_flows (
    auth_request_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    challenge_id    TEXT NOT NULL,
    citizen_id      TEXT NOT NULL DEFAULT '',
    sent_at_ms      BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (auth_request_id, kind)
);
CREATE INDEX page_flows_expires ON page_flows (expires_at_ms);
