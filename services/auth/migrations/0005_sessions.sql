-- Sessions: a login's refresh-token family and every family a step-up
-- started from it share session_id, the sid claim of their access tokens.
-- Ending the session (logout, refresh-token reuse) revokes them all. A
-- login family's session_id is its own id, so the session is alive while
-- that row is not revoked.
ALTER TABLE token_families ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
UPDATE token_families SET session_id = id WHERE session_id = '';
CREATE INDEX token_families_session ON token_families (session_id);

-- Failed logins are counted per account and source ("pair:…"), per
-- account from every source ("acct:…", a much higher ceiling) and per
-- source ("src:…"). account is the HMAC of the national ID for the first
-- two kinds, so that an unlock by SMS clears every lock of the account.
ALTER TABLE login_throttle ADD COLUMN account TEXT NOT NULL DEFAULT '';
CREATE INDEX login_throttle_account ON login_throttle (account);
