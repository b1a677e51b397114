// Package libs holds Tamkeen's shared plumbing: configuration, the gRPC server
// bootstrap, telemetry, storage, events with the transactional outbox, the
// embedded NATS helper, JWT verification (jwks), the one bearer-token check
// of incoming gRPC calls (authn), the names of the OAuth scopes (scope)
// and the one rule for phone numbers (phone: local Palestinian and
// Israeli mobiles to E.164), and argon2id (x/crypto's, reusing its memory
// between hashes). It holds no domain logic; each enabler's rules live in its own
// module under services/.
package libs
