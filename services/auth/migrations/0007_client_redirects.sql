-- Clients of the authorization code flow (issue 14): the redirect URIs
-- they registered (space-separated, matched exactly; a loopback client may
-- use any port of http://127.0.0.1 or http://[::1], RFC 8252 §7.3), the
-- URIs RP-initiated logout may return to, whether the client is public (a
-- browser or native app: no secret, PKCE required) and the highest acr it
-- may ask for ('' is loa1). A confidential client authenticates with
-- client_secret_basic or client_secret_post (token_auth_method). A public
-- client's secret_hash is ''.
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN loopback BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN token_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE clients ADD COLUMN max_acr TEXT NOT NULL DEFAULT '';
