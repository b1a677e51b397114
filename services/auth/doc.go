// Package auth is Tamkeen's citizen and enterprise authentication enabler: citizen accounts, login, OTP step-up by SMS and TOTP, OAuth 2.0 clients for ministry apps, OpenID Connect discovery and the JWKS that every other part verifies tokens against.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// own background work (consumers, schedulers) with Run, beside which
// libs/host declares its stream and runs its outbox relay;
// cmd/auth/main.go only loads configuration and wires. `tamkeen dev`
// composes the same Spec in one process
// (host.Compose).
//
// # Files
//
//   - config.go: Config (defaults in struct tags; DefaultConfig, Validate,
//     Stream).
//   - service.go: Deps, New and NewAdmin, Migrations, Register and Run
//     (outbox pruning).
//   - hosting.go: Spec, how libs/host and `tamkeen dev` run the service.
//   - citizens.go: registration, accounts and in-person proofing.
//   - login.go: password login with throttling per account and source;
//     PasswordLogin, the JSON route's, for first-party apps only
//     (a client token with auth:password-login).
//   - otp.go: SMS and TOTP step-up challenges (CreateOTPChallenge,
//     VerifyOTPChallenge); unlock.go: unlocking an account by SMS code.
//   - totp.go: TOTP enrolment and recovery codes.
//   - tokens.go: token pairs, refresh-token families (sessions), access
//     token verification and the OpenID discovery document; sessions.go:
//     a citizen's own sessions, listed and ended (GET/DELETE
//     /v1/auth/sessions).
//   - clients.go: OAuth 2.0 clients of ministry apps and the
//     client_credentials token endpoint; the scopes they may hold are
//     those of libs/scope.
//   - keys.go: the signing keys (ES256, and RS256 for the ID tokens of
//     clients that ask for it; rotated together) and the JWKS.
//   - clientjwt.go: private_key_jwt client authentication (RFC 7523)
//     with a jti replay table; backchannel.go: back-channel logout
//     tokens, queued in the outbox when a session ends and POSTed by a
//     consumer with retries.
//   - authorize.go: the authorization code flow (issue 14): authorization
//     requests bound to the browser, sign-in with login.go's password
//     check and otp.go's step-up (the authenticator app when enrolled,
//     else SMS) for acr_values=loa2 or an essential acr in claims, single sign-on
//     sessions, single-use codes (60 s, stored as MACs), the exchange with
//     PKCE S256 and the ID token.
//   - oidc.go: the OpenID Provider's protocol layer under /oauth2/
//     (Pages, host.PageServer): zitadel/oidc's op.Server around
//     authorize.go — authorize, token (code and refresh grants), userinfo,
//     revoke, logout (confirmed on a page without id_token_hint),
//     introspection and pushed authorization requests; pages.go and
//     pages/: the hosted sign-in and code
//     pages (Arabic and right-to-left by default, English, no JavaScript,
//     CSRF tokens, strict CSP); recovery.go (store_recovery.go): account
//     creation with phone verification and the SMS password reset of
//     the hosted pages, and the resend countdown.
//   - validate.go, passwords.go, secret.go, crypto.go: the rules that need
//     no I/O: national IDs, phones, names, password policy
//     (commonpasswords/), argon2id, key derivation, sealing and MACs.
//   - store.go, store_oidc.go, migrations/: the SQL, one text for SQLite
//     and PostgreSQL.
//   - grpc.go: proto ↔ domain, the caller from the bearer token, and
//     errors mapped to gRPC codes in toStatus.
//   - events.go: what it publishes through the outbox (citizen and
//     session events, OTP SMS commands to notification).
//   - cmd/auth/main.go: loads configuration and runs Spec.
package auth
