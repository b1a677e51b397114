// Package store is Tamkeen's storage plumbing: one small API over the pure-Go
// SQLite driver (modernc.org/sqlite, the default, used by `tamkeen dev` and
// most tests) and PostgreSQL through pgx's database/sql driver (production),
// with versioned migrations that every service applies at start-up.
//
// # Opening a database
//
//	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: "/var/lib/tamkeen/payment.db"})
//	...
//	defer db.Close()
//	if err := db.Migrate(ctx, paymentMigrations); err != nil { ... }
//
// DB embeds *sql.DB, so stores call QueryContext, ExecContext and friends
// directly, and use [DB.InTx] for anything that writes more than one row.
//
// # The portable SQL subset
//
// One SQL text serves both engines when it keeps to this subset, checked by
// this package's tests on both:
//
//   - Placeholders are $1, $2, ... on both engines; a number may be reused
//     and may appear out of order. Never use ? (PostgreSQL rejects it).
//   - Types: TEXT, INTEGER and BIGINT (64-bit on both), BOOLEAN (SQLite stores
//     0/1; Scan into bool works on both), TIMESTAMP (no time zone; see below).
//     Money is BIGINT minor units plus a TEXT currency code, never REAL.
//   - Binary data differs: BLOB on SQLite, BYTEA on PostgreSQL. Write the
//     table with BLOB in [Migration.SQL] and the same table with BYTEA in
//     [Migration.Postgres] (a NNNN_name.postgres.sql file); the Go code that
//     reads and writes []byte is the same on both.
//   - Generated keys differ too (INTEGER PRIMARY KEY vs BIGINT GENERATED ...
//     AS IDENTITY); Tamkeen uses opaque TEXT ids (pay_...), which need no
//     override.
//   - Upserts: INSERT ... ON CONFLICT (cols) DO NOTHING and
//     ON CONFLICT (cols) DO UPDATE SET x = excluded.x, with RETURNING.
//   - UPDATE ... WHERE ... RETURNING, DELETE ... RETURNING, CREATE TABLE/INDEX
//     IF NOT EXISTS, FOREIGN KEY ... ON DELETE CASCADE (SQLite enforces foreign
//     keys because Open turns them on), CHECK constraints, LIMIT/OFFSET.
//   - Not portable: AUTOINCREMENT/SERIAL, JSON operators, ILIKE, date
//     arithmetic and now()-style functions (pass the time from the injected
//     clock as a parameter instead), CREATE INDEX CONCURRENTLY (it cannot run
//     inside a migration's transaction).
//
// # Times
//
// Times are stored in UTC in TIMESTAMP columns on both engines, whatever the
// location of the time.Time passed in: the SQLite connection runs with
// _timezone=UTC and the PostgreSQL connection encodes TIMESTAMP parameters
// after converting them to UTC (pgx alone would keep the wall clock and drop
// the zone) and sets the session TimeZone to UTC. Reading a TIMESTAMP column
// gives a time.Time in UTC on both. PostgreSQL keeps microseconds and SQLite
// nanoseconds: truncate to time.Microsecond (the clock helpers in services
// should) so both engines agree. SQLite only turns text into time.Time for
// columns declared DATE, DATETIME or TIMESTAMP; for expressions such as
// MAX(created_at) scan through [ScanTime] or [ScanNullTime], which accept both
// drivers' representations.
//
// # Errors
//
// [IsUniqueViolation] and [IsNoRows] classify driver errors the same way on
// both engines, so a store can turn them into its domain's sentinel errors.
package store
