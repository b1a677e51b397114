package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/pause"
)

// Engine names a database engine.
type Engine string

const (
	// SQLite is the embedded pure-Go SQLite engine; it is the default.
	SQLite Engine = "sqlite"
	// Postgres is PostgreSQL reached through pgx's database/sql driver.
	Postgres Engine = "postgres"
)

// PostgreSQL pool defaults. Five enablers and the gateway, two replicas
// each, at DefaultPostgresConns stay within PostgreSQL's default
// max_connections of 100 (96 sessions at most).
const (
	DefaultPostgresConns   = 8
	DefaultConnMaxLifetime = 30 * time.Minute
	DefaultConnMaxIdleTime = 5 * time.Minute
)

// ErrBadOptions is wrapped by the errors Open returns for invalid Options.
var ErrBadOptions = errors.New("store: invalid options")

// Options says which database to open and how.
type Options struct {
	// Engine is SQLite or Postgres; empty means SQLite.
	Engine Engine
	// DSN locates the database. SQLite: a file path (its directory is
	// created with mode 0700 if missing), a file: URI, or ":memory:" for a
	// private in-memory database shared by this DB's connections.
	// Postgres: a postgres:// URL or a keyword/value connection string.
	DSN string
	// MaxOpenConns caps open connections when positive, and as many are
	// kept idle, so that a busy process reuses its connections instead of
	// opening a PostgreSQL session per burst (database/sql keeps only 2
	// idle by default: at concurrency 16 that was 933 new sessions in 5 s).
	// Zero means DefaultPostgresConns on PostgreSQL and no cap on SQLite.
	MaxOpenConns int
	// ConnMaxLifetime and ConnMaxIdleTime retire PostgreSQL connections
	// after that long open or idle (so a failover or a PgBouncer restart is
	// followed, and a quiet process gives its sessions back); zero means
	// DefaultConnMaxLifetime and DefaultConnMaxIdleTime. SQLite keeps its
	// connections.
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// Now is the clock used for schema_migrations.applied_at; nil means
	// time.Now.
	Now func() time.Time
	// NoGroupCommit makes InTx on SQLite run each call in a transaction of
	// its own, as before group commit: lower median latency for concurrent
	// writers that win the lock, at the cost of throughput and of the p99
	// of those that wait for it (docs/benchmarks.md). PostgreSQL ignores it.
	NoGroupCommit bool
}

// Querier is what both *DB and *sql.Tx offer, so that a store function
// runs alone or inside a transaction alike.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is an open database. It embeds *sql.DB so callers use QueryContext,
// ExecContext and the rest directly; it adds the engine, transactions with
// retries and migrations.
type DB struct {
	*sql.DB
	engine Engine
	now    func() time.Time
	// txAttempts is how many times InTx runs fn when SQLite reports the
	// database busy or locked.
	txAttempts int
	// txBackoff is the first pause between such attempts; it doubles.
	txBackoff time.Duration
	// group batches InTx calls into one commit; SQLite only (nil on
	// PostgreSQL, whose transactions run side by side).
	group *group
}

// Open opens and pings the database that opts describes. On SQLite every
// connection enables foreign keys, WAL journaling, a 5 s busy timeout,
// immediate (write-locking) transactions and UTC times.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Engine == "" {
		opts.Engine = SQLite
	}
	if opts.MaxOpenConns < 0 || opts.ConnMaxLifetime < 0 || opts.ConnMaxIdleTime < 0 {
		return nil, fmt.Errorf("%w: MaxOpenConns %d, ConnMaxLifetime %s, ConnMaxIdleTime %s: none may be negative",
			ErrBadOptions, opts.MaxOpenConns, opts.ConnMaxLifetime, opts.ConnMaxIdleTime)
	}
	if opts.Engine == Postgres {
		opts.MaxOpenConns = cmp.Or(opts.MaxOpenConns, DefaultPostgresConns)
		opts.ConnMaxLifetime = cmp.Or(opts.ConnMaxLifetime, DefaultConnMaxLifetime)
		opts.ConnMaxIdleTime = cmp.Or(opts.ConnMaxIdleTime, DefaultConnMaxIdleTime)
	}
	var (
		sqldb *sql.DB
		err   error
	)
	switch opts.Engine {
	case SQLite:
		sqldb, err = openSQLite(opts.DSN)
	case Postgres:
		sqldb, err = openPostgres(opts.DSN)
	default:
		return nil, fmt.Errorf("%w: unknown engine %q (want %q or %q)", ErrBadOptions, opts.Engine, SQLite, Postgres)
	}
	if err != nil {
		return nil, err
	}
	sqldb.SetConnMaxLifetime(opts.ConnMaxLifetime)
	sqldb.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if opts.MaxOpenConns > 0 {
		sqldb.SetMaxOpenConns(opts.MaxOpenConns)
		sqldb.SetMaxIdleConns(opts.MaxOpenConns)
	} else if opts.Engine == SQLite {
		// Opening a SQLite connection re-runs the pragmas; keep a few.
		sqldb.SetMaxIdleConns(4)
	}
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("store: ping %s: %w", opts.Engine, err)
	}
	if path := sqliteFilePath(opts.DSN); opts.Engine == SQLite && path != "" {
		// The ping opened a connection, which made the -wal and -shm files.
		if err := chmodSQLiteSidecars(path); err != nil {
			sqldb.Close()
			return nil, err
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	db := &DB{DB: sqldb, engine: opts.Engine, now: now, txAttempts: 5, txBackoff: 10 * time.Millisecond}
	if opts.Engine == SQLite && !opts.NoGroupCommit {
		db.group = &group{db: sqldb, maxBatch: groupMaxBatch, maxWork: groupMaxWork}
	}
	return db, nil
}

// Engine reports which engine db runs on, for the rare query that must differ.
func (db *DB) Engine() Engine { return db.engine }

// ExecContext runs one statement outside any caller's transaction. On
// SQLite with group commit it joins the group as an InTx of its own, so a
// lone write waits its turn in the writer's queue and shares its commit
// instead of contending with the group's transaction in SQLite's busy
// handler (5 ms sleeps and more: the dev inbox's inserts, made this way,
// held six of the bulk lane's eight workers asleep there). Called inside
// an InTx fn on the same DB it returns ErrNestedInTx; use the fn's tx.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.group == nil {
		return db.DB.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// InTx runs fn in a transaction: it commits when fn returns nil and rolls
// back when fn returns an error or panics (the panic then continues). On
// SQLite, when the database is busy or locked, the whole of fn is run again
// (up to a few times, with a growing pause), so fn must not have effects
// outside tx. The error from fn is returned as is, so sentinels survive.
//
// On SQLite, concurrent InTx calls on one DB share a transaction (group
// commit): each fn runs in turn, on its caller's goroutine, inside its own
// savepoint, and sees the writes of the fns before it; a fn that fails or
// panics is rolled back to its savepoint alone, and the others commit
// together, in one fsync. A fn may then also run again when another fn in
// its batch had SQLite roll the shared transaction back (an interrupted
// write, say). fn must not end tx itself, call InTx on the same DB (it
// gets ErrNestedInTx), nor wait for another caller's InTx. A caller whose ctx is done before its turn gets
// ctx.Err() and fn does not run.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	backoff := db.txBackoff
	for attempt := 1; ; attempt++ {
		var err error
		if db.group != nil {
			err = db.group.run(ctx, fn)
		} else {
			err = db.runTx(ctx, fn)
		}
		if err == nil || db.engine != SQLite || !isBusy(err) || attempt >= db.txAttempts {
			return err
		}
		if !pause.For(ctx, backoff, nil) {
			return err
		}
		backoff *= 2
	}
}

func (db *DB) runTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The transaction's own error (or the panic) matters more
			// than a failed rollback.
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		// A failed commit has already ended the transaction.
		committed = true
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	return nil
}
