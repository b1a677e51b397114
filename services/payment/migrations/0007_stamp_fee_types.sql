-- Revenue stamp fee types (issue 18.2): what a ministry sells stamps for,
-- with the department, value and names a citizen's purchase takes (a
-- citizen names only the fee type). A fee type id belongs to the ministry
-- that registered it first. Stamps remember when they were ordered, so
-- that a buyer lists them newest first; rows from before take their
-- order's creation time.
CREATE TABLE stamp_fee_types (
	fee_type TEXT PRIMARY KEY,
	ministry TEXT NOT NULL,
	department TEXT NOT NULL,
	value BIGINT NOT NULL,
	currency TEXT NOT NULL,
	name_ar TEXT NOT NULL,
	name_en TEXT NOT NULL,
	registered_by TEXT NOT NULL,
	updated_at TIMESTAMP NOT NULL
);
ALTER TABLE stamps ADD COLUMN created_at TIMESTAMP;
UPDATE stamps SET created_at = (SELECT p.created_at FROM payments p WHERE p.id = stamps.payment_id);
CREATE INDEX stamps_buyer ON stamps (buyer, created_at, serial);
