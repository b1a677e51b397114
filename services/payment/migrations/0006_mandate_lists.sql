-- Issue 18 item 3: GET /v1/mandates lists a client's mandates newest
-- first (a citizen's use mandates_citizen).
CREATE INDEX mandates_client ON mandates (client_id, created_at, id);
