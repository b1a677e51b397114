-- The sandbox bank (direct debit, issue 18.3): each pain.008 message it
-- took, and the camt.054 notification it answered with. Its outcomes are
-- decided by the debtor IBAN (bank.go), so the answer is written with the
-- submission.
CREATE TABLE sandbox_bank_messages (
	id TEXT PRIMARY KEY,
	pain008 TEXT NOT NULL,
	camt054 TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
);
