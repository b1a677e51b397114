-- Direct debit (issue 18.3). A ministry client requests a mandate
-- (pending); the citizen authorises it at loa2 and is bound to it
-- (active); the citizen revokes it at any time (revoked), which cancels its
-- collections not yet submitted. A collection is scheduled by the ministry,
-- announced to the citizen days before its due date, submitted to the bank
-- in a pain.008 message (bank_submissions), and settles or fails from the
-- bank's camt.054 notification. The IBAN is stored here and nowhere else:
-- events, logs and the bank's files outside the submission never carry it.
CREATE TABLE mandates (
	id TEXT PRIMARY KEY,
	state TEXT NOT NULL,
	client_id TEXT NOT NULL,
	ministry TEXT NOT NULL,
	creditor_account TEXT NOT NULL,
	citizen_id TEXT NOT NULL DEFAULT '',
	debtor_name TEXT NOT NULL,
	debtor_iban TEXT NOT NULL,
	max_amount BIGINT NOT NULL,
	currency TEXT NOT NULL,
	frequency TEXT NOT NULL,
	start_date TEXT NOT NULL,
	end_date TEXT NOT NULL,
	reference TEXT NOT NULL,
	description TEXT NOT NULL,
	notify_phone TEXT NOT NULL DEFAULT '',
	notify_language TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMP NOT NULL,
	authorized_at TIMESTAMP,
	revoked_at TIMESTAMP
);
CREATE INDEX mandates_citizen ON mandates (citizen_id);

-- A submission is one pain.008 message to a bank; its collections point at
-- it. sent_at is set once the bank took it (re-sent until then), done_at
-- once its camt.054 result is applied.
CREATE TABLE bank_submissions (
	id TEXT PRIMARY KEY,
	bank TEXT NOT NULL,
	message TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL,
	sent_at TIMESTAMP,
	done_at TIMESTAMP
);

CREATE TABLE mandate_collections (
	id TEXT PRIMARY KEY,
	mandate_id TEXT NOT NULL REFERENCES mandates (id),
	amount BIGINT NOT NULL,
	currency TEXT NOT NULL,
	due_date TEXT NOT NULL,
	period INTEGER NOT NULL,
	state TEXT NOT NULL,
	reason_code TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	submission_id TEXT REFERENCES bank_submissions (id),
	created_at TIMESTAMP NOT NULL,
	announced_at TIMESTAMP,
	submitted_at TIMESTAMP,
	settled_at TIMESTAMP
);
CREATE INDEX mandate_collections_mandate ON mandate_collections (mandate_id, due_date);
CREATE INDEX mandate_collections_state ON mandate_collections (state, due_date);
CREATE INDEX mandate_collections_submission ON mandate_collections (submission_id);
