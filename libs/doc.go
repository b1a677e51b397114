// Package libs holds Tamkeen's shared plumbing: configuration, the gRPC server
// bootstrap, telemetry, storage, events with the transactional outbox, the
// embedded NATS helper and JWT verification. It holds no domain logic; each
// enabler's rules live in its own module under services/.
package libs
