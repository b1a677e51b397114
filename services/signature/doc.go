// Package signature is Tamkeen's e-signature enabler: a CA hierarchy issuing citizens' signing certificates, OTP-authorised remote signing with sole control, CAdES and PAdES, an RFC 3161 time-stamping authority, CRL and OCSP, and validation reports.
//
// # Whom a certificate names
//
// A citizen's signing certificate names the citizen who is signed in, as
// the auth enabler recorded them, and nobody else: CN "<given> <family>",
// GN, SN and serialNumber=PNOPS-<national ID>. The identity arrives with
// auth's citizen_registered and citizen_proofed events (consumer
// signature-proofing), sealed with libs/sealed (HPKE, ML-KEM-768+X25519)
// to the identity key (flag identity-key, TAMKEEN_IDENTITY_KEY_FILE; auth
// holds only its public half, printed by `tamkeen identity-key public`),
// bound to the citizen id. The service keeps it sealed again under the
// key-encryption key in citizen_identities (identity.go); an identity from
// an in-person proofing is not replaced by a later registration event, and
// one that does not open (another key, another citizen, tampered) is not
// applied and is logged by citizen id only. The request's given_name,
// family_name and national_id may be empty or repeat the record; a value
// that differs is refused with InvalidArgument naming the field (400) and
// nothing is issued; without a record the answer is FailedPrecondition
// (412), whatever the body says. Identity claims in the access token are
// ignored (only proofing_level is read). With allow-self-proofed (dev)
// the certificate carries the registered identity; otherwise the citizen
// must also be proofed in person.
//
// An organisation seal (a client with signing:seal) names the client's
// organisation as the operator registered it in auth (`tamkeen clients
// create|set-organization --organization`), which auth signs into the
// client's tokens as org_name: its CN, with O = pki-organization and
// organizationIdentifier NTRPS-<client id>. The name is checked again here
// (libs/textcheck OrganizationProblem: no bidi controls, zero-width, control or format
// characters, only Arabic and Latin letters, no word mixing scripts); a
// client without one, or with one that fails, gets FailedPrecondition; a
// request organization_name that differs is InvalidArgument naming
// organization_name.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// own background work (consumers, schedulers) with Run, beside which
// libs/host declares its stream and runs its outbox relay;
// cmd/signature/main.go only loads configuration and wires. `tamkeen dev`
// composes the same Spec in one process
// (host.Compose).
//
// # Files
//
//   - config.go: Config and Validate.
//   - service.go: Deps, New, Migrations, Register and Run (outbox relay,
//     consumers, CRL refresh).
//   - hosting.go: Spec, how libs/host and `tamkeen dev` run the service.
//   - credentials.go: citizens' signing credentials and organisation
//     seals: creation, listing, revocation.
//   - identity.go: whom a certificate names (identities sealed by auth).
//   - sad.go: signature activation data (OTP-authorised sole control).
//   - sign.go, cms.go, pades.go: signing: CAdES (CMS SignedData) and
//     PAdES; tsa.go: the RFC 3161 time-stamping authority.
//   - validate.go: validation reports (ETSI EN 319 102-1).
//   - pki.go, revocation.go: the CA hierarchy (`tamkeen pki init`), CRLs
//     and OCSP.
//   - keys.go, seal.go, hsm*.go: key algorithms, private keys sealed
//     under the key-encryption key, and PKCS#11 tokens.
//   - store.go, store_credentials.go, store_signing.go, migrations/: every
//     SQL statement, for SQLite and PostgreSQL.
//   - grpc.go: proto ↔ domain and errors mapped to gRPC codes;
//     authn.go: the caller from the bearer token (libs/authn) and the
//     step-up and seal checks.
//   - events.go: what it publishes through the outbox and consumes from
//     auth.
//   - stamps.go: seals the payment enabler's revenue stamps (its
//     stamp_issued events) with the platform seal as compact JWS and
//     publishes stamp_sealed.
//   - metrics.go: its Prometheus counters (signatures by format and
//     kind, time-stamps by use) and the CRL age, read at scrape.
//   - cmd/signature/main.go: loads configuration and runs Spec.
package signature
