// Package auth is Tamkeen's citizen and enterprise authentication enabler: citizen accounts, login, OTP step-up by SMS and TOTP, OAuth 2.0 clients for ministry apps, OpenID Connect discovery and the JWKS that every other part verifies tokens against.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// background work (the outbox relay, consumers, schedulers) with Run;
// cmd/auth/main.go only loads configuration and wires. `tamkeen dev`
// composes the same constructor in one process.
package auth
