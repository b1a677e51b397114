// Package content is Tamkeen's content enabler: typed bilingual content, a role-based editorial workflow per ministry, immutable versions, scheduling, and a cached public API with Arabic-aware search.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// own background work (consumers, schedulers) with Run, beside which
// libs/host declares its stream and runs its outbox relay;
// cmd/content/main.go only loads configuration and wires. `tamkeen dev`
// composes the same Spec in one process
// (host.Compose).
//
// # Files
//
//   - config.go: Config and Validate.
//   - service.go: Deps, New, Migrations, Register and Run (scheduler).
//   - hosting.go: Spec, how libs/host and `tamkeen dev` run the service.
//   - item.go, workflow.go, diff.go: the rules that need no I/O: content
//     types and their fields, the editorial states and roles, and field
//     diffs between versions.
//   - richtext.go, normalize.go: the Markdown subset and its sanitised
//     HTML; Arabic-aware search normalisation and stemming.
//   - content.go: the editorial use cases (create, save, roll back,
//     transitions, publish), each in one transaction with its event.
//   - history.go: versions, recorded transitions and role grants.
//   - public.go: the cached public API (published content and search).
//   - feed.go, feed_grpc.go: Atom feeds of a ministry's latest published
//     items (docs/guides/content.md).
//   - scheduler.go: publishing and taking down at the scheduled times.
//   - store.go, store_items.go, store_public.go, store_history.go,
//     store_scheduler.go, store_feeds.go, migrations/: every SQL statement
//     (one text for both engines except search).
//   - grpc.go: proto ↔ domain, client-token checks and errors mapped to
//     gRPC codes.
//   - events.go: what it publishes through the outbox.
//   - metrics.go: its Prometheus counters (publications, expiries).
//   - cmd/content/main.go: loads configuration and runs Spec.
package content
