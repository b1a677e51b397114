-- Issue 18 item 3: the number each citizen verified with auth (learnt
-- from tamkeen.auth.citizen_phone_verified), where direct-debit
-- announcements go: never a number a ministry's request names.
CREATE TABLE citizen_phones (
    citizen_id   TEXT PRIMARY KEY,
    phone_number TEXT NOT NULL,
    verified_at  TIMESTAMP NOT NULL
);
