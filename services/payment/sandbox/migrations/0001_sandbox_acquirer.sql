-- The sandbox acquirer's charges, refunds and outgoing webhooks.
CREATE TABLE sandbox_charges (
	id          TEXT PRIMARY KEY,
	payment_id  TEXT NOT NULL UNIQUE,
	amount      BIGINT NOT NULL,
	currency    TEXT NOT NULL,
	description TEXT NOT NULL,
	return_url  TEXT NOT NULL,
	status      TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	card_last4  TEXT NOT NULL DEFAULT '',
	dispute     TEXT NOT NULL DEFAULT '',
	refunded    BIGINT NOT NULL DEFAULT 0,
	expire_at   TIMESTAMP NOT NULL,
	created_at  TIMESTAMP NOT NULL,
	paid_at     TIMESTAMP NULL,
	disputed_at TIMESTAMP NULL
);
CREATE INDEX sandbox_charges_paid ON sandbox_charges (paid_at);
CREATE TABLE sandbox_refunds (
	id         TEXT PRIMARY KEY,
	refund_id  TEXT NOT NULL UNIQUE,
	charge_id  TEXT NOT NULL REFERENCES sandbox_charges (id),
	amount     BIGINT NOT NULL,
	created_at TIMESTAMP NOT NULL
);
CREATE INDEX sandbox_refunds_created ON sandbox_refunds (created_at);
CREATE TABLE sandbox_webhooks (
	id           TEXT PRIMARY KEY,
	charge_id    TEXT NOT NULL,
	payload      TEXT NOT NULL,
	created_at   TIMESTAMP NOT NULL,
	delivered_at TIMESTAMP NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      TIMESTAMP NOT NULL
);
CREATE INDEX sandbox_webhooks_due ON sandbox_webhooks (delivered_at, next_at);
