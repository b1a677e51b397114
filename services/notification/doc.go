// Package notification is Tamkeen's SMS and e-mail enabler: templates per ministry, channel and language, priority lanes so an OTP never waits behind a campaign, SMPP, HTTP and SMTP providers, delivery status and bulk sends.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// background work (the outbox relay, consumers, schedulers) with Run;
// cmd/notification/main.go only loads configuration and wires. `tamkeen dev`
// composes the same constructor in one process.
package notification
