-- Electronic revenue stamps (issue 18.2). A stamp order is a payment; its
-- stamps are reserved with the order (status unpaid) and issued in the
-- transaction that moves the payment to succeeded. A stamp is used
-- (cancelled, as a clerk cancels a paper stamp) at most once: the use is an
-- UPDATE … WHERE used_at IS NULL whose affected rows decide who won.
CREATE TABLE stamps (
	serial TEXT PRIMARY KEY,
	payment_id TEXT NOT NULL REFERENCES payments (id),
	position INTEGER NOT NULL,
	fee_type TEXT NOT NULL,
	value BIGINT NOT NULL,
	currency TEXT NOT NULL,
	department TEXT NOT NULL,
	buyer TEXT NOT NULL,
	ministry TEXT NOT NULL DEFAULT '',
	validity_seconds BIGINT NOT NULL,
	issued_at TIMESTAMP,
	expire_at TIMESTAMP,
	used_by TEXT NOT NULL DEFAULT '',
	document_ref TEXT NOT NULL DEFAULT '',
	used_at TIMESTAMP,
	expired_at TIMESTAMP,
	revoked_at TIMESTAMP,
	signed_stamp TEXT NOT NULL DEFAULT '',
	UNIQUE (payment_id, position)
);
CREATE INDEX stamps_expiry ON stamps (expire_at) WHERE used_at IS NULL AND expired_at IS NULL AND issued_at IS NOT NULL;
