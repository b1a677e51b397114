-- The payment enabler's tables. Amounts are BIGINT minor units. The ledger
-- is append-only: triggers refuse UPDATE and DELETE on its transactions and
-- entries (the one place where the engines' SQL differs, hence
-- 0001_payments_ledger.postgres.sql), and UNIQUE (kind, ref) makes every
-- posting happen at most once.
CREATE TABLE payments (
	id              TEXT PRIMARY KEY,
	client_id       TEXT NOT NULL,
	amount          BIGINT NOT NULL CHECK (amount > 0),
	currency        TEXT NOT NULL,
	reference       TEXT NOT NULL,
	description     TEXT NOT NULL,
	return_url      TEXT NOT NULL,
	citizen_id      TEXT NOT NULL DEFAULT '',
	provider        TEXT NOT NULL,
	provider_ref    TEXT NOT NULL DEFAULT '',
	next_url        TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	refunded_amount BIGINT NOT NULL DEFAULT 0,
	created_at      TIMESTAMP NOT NULL,
	updated_at      TIMESTAMP NOT NULL,
	expire_at       TIMESTAMP NOT NULL,
	paid_at         TIMESTAMP NULL,
	CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
);
CREATE INDEX payments_client_created ON payments (client_id, created_at, id);
CREATE INDEX payments_client_reference ON payments (client_id, reference);
CREATE INDEX payments_state_expire ON payments (state, expire_at);
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, provider_ref) WHERE provider_ref <> '';

CREATE TABLE payment_splits (
	payment_id TEXT NOT NULL REFERENCES payments (id),
	position   INTEGER NOT NULL,
	account    TEXT NOT NULL,
	amount     BIGINT NOT NULL CHECK (amount > 0),
	refunded   BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
	PRIMARY KEY (payment_id, position)
);

CREATE TABLE payment_transitions (
	payment_id TEXT NOT NULL REFERENCES payments (id),
	seq        INTEGER NOT NULL,
	from_state TEXT NOT NULL,
	to_state   TEXT NOT NULL,
	cause      TEXT NOT NULL,
	at         TIMESTAMP NOT NULL,
	PRIMARY KEY (payment_id, seq)
);

CREATE TABLE idempotency_keys (
	client_id    TEXT NOT NULL,
	scope        TEXT NOT NULL,
	idem_key     TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	resource_id  TEXT NOT NULL,
	created_at   TIMESTAMP NOT NULL,
	PRIMARY KEY (client_id, scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE refunds (
	id           TEXT PRIMARY KEY,
	payment_id   TEXT NOT NULL REFERENCES payments (id),
	amount       BIGINT NOT NULL CHECK (amount > 0),
	currency     TEXT NOT NULL,
	state        TEXT NOT NULL,
	reason       TEXT NOT NULL,
	provider_ref TEXT NOT NULL DEFAULT '',
	created_at   TIMESTAMP NOT NULL,
	updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_state ON refunds (state);

CREATE TABLE webhook_events (
	provider    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	event_type  TEXT NOT NULL,
	payment_id  TEXT NOT NULL,
	outcome     TEXT NOT NULL,
	received_at TIMESTAMP NOT NULL,
	PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);

CREATE TABLE ledger_transactions (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	ref        TEXT NOT NULL,
	payment_id TEXT NOT NULL DEFAULT '',
	currency   TEXT NOT NULL,
	posted_at  TIMESTAMP NOT NULL,
	UNIQUE (kind, ref)
);
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id);
CREATE INDEX ledger_transactions_posted ON ledger_transactions (kind, posted_at);

CREATE TABLE ledger_entries (
	transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
	position       INTEGER NOT NULL,
	account        TEXT NOT NULL,
	currency       TEXT NOT NULL,
	debit          BIGINT NOT NULL CHECK (debit >= 0),
	credit         BIGINT NOT NULL CHECK (credit >= 0),
	PRIMARY KEY (transaction_id, position),
	CHECK ((debit > 0 AND credit = 0) OR (credit > 0 AND debit = 0))
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, currency);

CREATE TABLE ledger_balances (
	account  TEXT NOT NULL,
	currency TEXT NOT NULL,
	debits   BIGINT NOT NULL,
	credits  BIGINT NOT NULL,
	PRIMARY KEY (account, currency)
);

CREATE TABLE reconciliations (
	id          TEXT PRIMARY KEY,
	client_id   TEXT NOT NULL,
	provider    TEXT NOT NULL,
	day         TEXT NOT NULL,
	matched     INTEGER NOT NULL,
	report      TEXT NOT NULL,
	created_at  TIMESTAMP NOT NULL
);

CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
