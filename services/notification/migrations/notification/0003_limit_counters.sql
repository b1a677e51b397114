-- Issue 15: the rate limits kept as counters, one row per limit (scope:
-- recipient-hourly, client-minute, client-daily) and key (the phone number
-- or the client id), holding the window being counted. A send reads and
-- increments its rows by primary key instead of counting the day's
-- notifications. Counting starts empty: the windows open at the upgrade
-- count from zero.
CREATE TABLE limit_counters (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
-- The sweeper finds the closed windows by it.
CREATE INDEX limit_counters_window ON limit_counters (scope, window_start);
