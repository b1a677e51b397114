// Package content is Tamkeen's content enabler: typed bilingual content, a role-based editorial workflow per ministry, immutable versions, scheduling, and a cached public API with Arabic-aware search.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// background work (the outbox relay, consumers, schedulers) with Run;
// cmd/content/main.go only loads configuration and wires. `tamkeen dev`
// composes the same constructor in one process.
package content
