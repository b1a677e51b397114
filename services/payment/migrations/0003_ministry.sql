-- The ministry a payment belongs to (its client's, from the token's
-- ministry claim at creation) and, copied onto every ledger transaction of
-- it, whose part of the ledger a ministry's finance client sees. Rows from
-- before have '' and are in the platform-wide view only (ledger:admin).
-- Adding a column fires no row trigger, so the append-only ledger is
-- untouched.
ALTER TABLE payments ADD COLUMN ministry TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger_transactions ADD COLUMN ministry TEXT NOT NULL DEFAULT '';
CREATE INDEX ledger_transactions_ministry ON ledger_transactions (ministry, id);
