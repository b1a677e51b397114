// Package libs holds Tamkeen's shared plumbing: configuration, the gRPC server
// bootstrap, telemetry, storage, events with the transactional outbox, the
// embedded NATS helper, JWT verification (jwks), the one bearer-token check
// of incoming gRPC calls (authn) and the names of the OAuth scopes
// (scope). It holds no domain logic; each enabler's rules live in its own
// module under services/.
package libs
