// Package signature is Tamkeen's e-signature enabler: a CA hierarchy issuing citizens' signing certificates, OTP-authorised remote signing with sole control, CAdES and PAdES, an RFC 3161 time-stamping authority, CRL and OCSP, and validation reports.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// background work (the outbox relay, consumers, schedulers) with Run;
// cmd/signature/main.go only loads configuration and wires. `tamkeen dev`
// composes the same constructor in one process.
package signature
