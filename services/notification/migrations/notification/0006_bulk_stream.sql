-- Issue 15: bulk at a million. A streamed CSV upload validates row by
-- row: good rows go to bulk_recipients (rendered, ready to queue), bad
-- ones to bulk_row_errors (the first 10,000; the rest are only counted).
-- A feeder moves recipients into notifications a batch at a time, as the
-- bulk lane keeps up, so a million rows never become a million queued
-- commands at once. The job's progress is kept in counters updated in
-- the same transaction as the rows they count, never counted per read.
ALTER TABLE bulk_jobs ADD COLUMN state TEXT NOT NULL DEFAULT 'sending';
ALTER TABLE bulk_jobs ADD COLUMN validated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN invalid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN fed_line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bulk_jobs ADD COLUMN language TEXT NOT NULL DEFAULT '';

-- Jobs made before the counters: every message was queued at creation.
UPDATE bulk_jobs SET state = 'done', validated = total, queued = total,
    started = (SELECT COUNT(*) FROM notifications n WHERE n.bulk_job_id = bulk_jobs.id AND n.status <> 'created'),
    submitted = (SELECT COUNT(*) FROM notifications n WHERE n.bulk_job_id = bulk_jobs.id AND n.submission = 'accepted'),
    delivered = (SELECT COUNT(*) FROM notifications n WHERE n.bulk_job_id = bulk_jobs.id AND n.status = 'delivered'),
    failed = (SELECT COUNT(*) FROM notifications n WHERE n.bulk_job_id = bulk_jobs.id
        AND n.status IN ('permanent-failure', 'temporary-failure', 'technical-failure', 'cancelled'));
CREATE INDEX bulk_jobs_state ON bulk_jobs (state);

CREATE TABLE bulk_recipients (
    job_id    TEXT NOT NULL,
    line      INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    reference TEXT NOT NULL,
    body      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    html      TEXT NOT NULL,
    encoding  TEXT NOT NULL,
    segments  INTEGER NOT NULL,
    country   TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);

CREATE TABLE bulk_row_errors (
    job_id TEXT NOT NULL,
    line   INTEGER NOT NULL,
    field  TEXT NOT NULL,
    code   TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);
