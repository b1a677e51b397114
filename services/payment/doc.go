// Package payment is Tamkeen's e-payment enabler: payments with idempotency and departmental splits, providers behind one interface with a sandbox acquirer, a double-entry ledger, refunds, disputes and reconciliation.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// own background work (the sweeper, the sandbox's webhook retries) with
// Run, beside which libs/host declares its stream and runs its outbox
// relay; cmd/payment/main.go only loads configuration and
// wires. `tamkeen dev` composes the same Spec in one process
// (host.Compose).
//
// # Files
//
//   - config.go: Config and Validate.
//   - service.go: Deps, New, Register and Run (sweeper, sandbox webhook
//     retries).
//   - hosting.go: Spec, how libs/host and `tamkeen dev` run the service.
//   - money.go, state.go, ledger.go: the rules that need no I/O: amounts in
//     integer minor units (package money: ILS 2, USD 2, JOD 3 decimals, never
//     floats), split validation naming the difference, the state machine
//     (created → pending → succeeded | failed | cancelled | expired; then
//     partially_refunded, refunded, disputed → won | lost) and balanced
//     postings.
//   - payments.go, refunds.go, webhook.go, sweep.go, reconcile.go: the use
//     cases, each change of a payment in one transaction with its recorded
//     transition, its ledger posting and its outbox event.
//   - store.go, migrations/: Migrations (embedded migrations/*.sql, one
//     text for SQLite and PostgreSQL but the ledger's triggers in
//     0001_payments_ledger.postgres.sql).
//   - store_payments.go, store_refunds.go, store_webhooks.go,
//     store_sweep.go, store_reconcile.go, store_ledger.go: every SQL
//     statement, in small functions the use cases call inside their
//     transactions. The ledger is append-only (triggers) and (kind, ref)
//     is unique, so a posting happens at most once; CheckLedger
//     (store_ledger.go) proves the invariants (`tamkeen ledger check`).
//   - stamp.go, stamp_grpc.go, store_stamps.go, migrations/0004_stamps.sql:
//     electronic revenue stamps — bought through a payment, issued in the
//     transaction of its succeeded transition (announced as
//     payment.stamp_issued for the signature enabler to seal; its
//     signature.stamp_sealed comes back and is stored), used exactly once,
//     forfeited at expiry by the sweep, revoked by a lost chargeback; the
//     ledger rule is in stamp.go.
//   - mandate.go, mandate_grpc.go, store_mandates.go,
//     migrations/0005_mandates.sql: direct debit — mandates requested by a
//     ministry and authorised by the citizen at loa2, collections announced
//     (collection_announced), submitted to a provider.BankProvider in a
//     pain.008 message by the sweep and settled or failed from its
//     camt.054 (ledger kind direct_debit), revocation by the citizen; the
//     sandbox bank is sandbox/bank.go.
//   - grpc.go: proto ↔ domain, client-token verification (the client id
//     scopes payments to the client that made them; the token's ministry
//     claim scopes the ledger) and error mapping in one place.
//   - events.go: what it publishes through the outbox.
//   - metrics.go: its Prometheus counters (transitions by state and
//     currency, webhook verifications by outcome, ledger postings), counted
//     when their transaction commits (inTx).
//   - provider: the acquirer contract, the "t=<unix>,v1=<hex HMAC-SHA256>"
//     webhook signature and the settlement report CSV.
//   - sandbox: the built-in sandbox acquirer with its hosted checkout; its
//     SQL is in sandbox/store.go.
//   - cmd/payment/main.go: loads configuration and runs Spec.
//
// # Creating a payment and its charge
//
// CreatePayment writes the Idempotency-Key claim, the payment, its
// splits, its first transition and (for a stamp order) its reserved
// stamps in one transaction. Where the charge is registered depends on the
// acquirer:
//
//   - An acquirer that keeps its charges in the payment database
//     (provider.TxCharger: the sandbox) registers the charge in that same
//     transaction, and the payment row is inserted with its provider_ref
//     and next_url: a create is one commit. Of concurrent requests with
//     one key, only the one that wins the claim inserts a charge; one
//     that rolls back (a lost race, a failed insert) takes its charge
//     with it, so there is one charge per payment by atomicity.
//     TestCreateIsOneCommit counts the commits.
//   - A real acquirer's CreateCharge is a remote call, which cannot join
//     the transaction: it is made after the commit (ensureCharge), with
//     the payment id as its idempotency reference (the Provider contract),
//     and its reference and checkout URL are stored by an UPDATE that
//     only fills an empty provider_ref, so concurrent retries store one
//     charge. If the acquirer does not answer, the client gets
//     ErrProviderUnavailable (503) and the payment stays created without a
//     next_url; a retry with the same Idempotency-Key finds it and
//     registers its charge, and one never retried expires at expire_at
//     (there is no charge to void). TestCreateWithRemoteAcquirer covers
//     this path.
//
// # Whose ledger a ministry sees
//
// A payment belongs to the ministry of the client that created it: the
// "ministry" claim of its access token (the client's registered ministry,
// set by the operator with `tamkeen clients create --ministry`), stored on
// the payment at creation and never taken from the request. Every ledger
// transaction about the payment — its capture, refunds, lost dispute, and
// the settlement postings reconciliation makes for its report lines —
// records that ministry (ledger_transactions.ministry). A department
// belongs to a ministry through those transactions, not through its
// account name: account names are not namespaced, so two ministries that
// both credit "dept:x" each see only their own postings to it.
//
// With ledger:read a ministry's finance client sees its part of the ledger
// only: GetTrialBalance and ListLedgerAccounts sum the entries of its own
// transactions (whole transactions, so each currency still balances; the
// shared clearing and bank accounts show its share), and Reconcile matches
// and settles the report lines of its own payments only — lines of other
// ministries' or unknown payments are not shown to it. A client registered
// without a ministry sees no part (403). The platform-wide view (every
// ministry, the stored balance rows, unknown report lines) needs the
// operator scope ledger:admin. Payments and postings from before this rule
// (schema version 3) have no ministry and are in the platform-wide view
// only.
//
// # The sandbox in development and production
//
// The sandbox acquirer is for development and tests only. It is on when
// --dev-mode (tamkeen dev sets TAMKEEN_DEV_MODE) or --sandbox is given;
// Service.HTTPHandler then serves its pages under /sandbox/ and next_url
// points at <public-url>/sandbox/checkout/<charge>. tamkeen dev mounts that
// handler on the gateway (GET and POST /sandbox/{path=**}). In production
// the sandbox is off, HTTPHandler is nil and nothing is mounted: a real
// acquirer hosts its own checkout page (its next_url points there) and
// posts its signed webhooks to POST /v1/payments/providers/{provider}/webhook.
//
// # Text and the return URL
//
// The description (shown on the checkout page and the receipt) and a
// refund's reason are one line of display text, the reference and the
// receipt e-mail address are addresses, checked with the platform's
// display-text check (libs/textcheck): bidi controls, zero-width and
// control characters are refused with a 400 naming the field and the
// character. Department accounts are "dept:<lower-case LDH name>" and
// carry no free text.
//
// return_url must be absolute https (plain http only to localhost or a
// loopback address, for development) with a host that is an LDH DNS name
// (punycode xn-- for Arabic and other scripts, at most 253 bytes) or an IP
// literal (IPv6 in brackets, no zone), an optional port 1–65535, and no
// user information, spaces, controls or hidden characters
// (provider.ParseReturnURL). The checkout page's Content-Security-Policy
// (form-action) and its redirect use the origin and URL rebuilt from those
// checked parts, never the stored string: Go's url.Parse accepts ';',
// quotes and '*' in a host, so "https://a.example;script-src'*'/" used to
// add a directive to the policy. A charge whose stored URL does not pass
// (one created before the check) gets form-action 'self' only and no
// redirect.
package payment
