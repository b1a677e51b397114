// Package payment is Tamkeen's e-payment enabler: payments with idempotency and departmental splits, providers behind one interface with a sandbox acquirer, a double-entry ledger, refunds, disputes and reconciliation.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// background work (the outbox relay, consumers, schedulers) with Run;
// cmd/payment/main.go only loads configuration and wires. `tamkeen dev`
// composes the same constructor in one process.
package payment
