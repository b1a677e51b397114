-- Issue 15: counters many workers add to at once are kept in shards. A
-- bulk job's progress (started, submitted, delivered, failed) and a
-- client's daily usage were one row each, updated in the transaction of
-- every message's transition: on PostgreSQL each such transaction held
-- that row's lock until its commit, so a job's workers took turns (the
-- lane's eight workers waited on `UPDATE bulk_jobs SET started = started
-- + 1`). Each message now adds to one of 16 rows chosen by its id;
-- readers sum the shards.
CREATE TABLE bulk_job_counters (
    job_id    TEXT NOT NULL,
    shard     INTEGER NOT NULL,
    started   INTEGER NOT NULL DEFAULT 0,
    submitted INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, shard)
);
INSERT INTO bulk_job_counters (job_id, shard, started, submitted, delivered, failed)
    SELECT id, 0, started, submitted, delivered, failed FROM bulk_jobs;
ALTER TABLE bulk_jobs DROP COLUMN started;
ALTER TABLE bulk_jobs DROP COLUMN submitted;
ALTER TABLE bulk_jobs DROP COLUMN delivered;
ALTER TABLE bulk_jobs DROP COLUMN failed;

CREATE TABLE usage_daily_shards (
    client_id TEXT NOT NULL,
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    country   TEXT NOT NULL,
    shard     INTEGER NOT NULL,
    messages  INTEGER NOT NULL,
    segments  INTEGER NOT NULL,
    PRIMARY KEY (client_id, day, channel, country, shard)
);
INSERT INTO usage_daily_shards (client_id, day, channel, country, shard, messages, segments)
    SELECT client_id, day, channel, country, 0, messages, segments FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_shards RENAME TO usage_daily;
