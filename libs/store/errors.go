package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// pgUniqueViolation is PostgreSQL's SQLSTATE for unique_violation.
const pgUniqueViolation = "23505"

// IsUniqueViolation reports whether err (or an error it wraps) is a unique or
// primary-key constraint violation on either engine.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return false
}

// IsNoRows reports whether err is, or wraps, sql.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// isBusy reports whether err is SQLite's "database is busy" or "locked",
// including their extended codes, after which a transaction may be retried.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// Unavailability is why a database cannot take a change now, as a class
// an answer can name without leaking the driver's text.
type Unavailability string

// Classes of Unavailable.
const (
	// StorageFull: the disk or the database's size limit is reached (the
	// statement failed and its transaction rolled back: nothing was
	// stored).
	StorageFull Unavailability = "storage_full"
	// StorageDown: the server cannot be reached, refuses connections, is
	// shutting down or is a read-only standby. A commit that met it may or
	// may not have taken effect.
	StorageDown Unavailability = "storage_unavailable"
)

// Unavailable classifies err (or an error it wraps) as a database that is
// full or down, on either engine, or returns "" for any other error (a
// bug, a constraint, a missing row: not the storage's state).
func Unavailable(err error) Unavailability {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "" // the caller's deadline, not the storage's state
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return StorageFull
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return StorageDown
		}
		return ""
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return StorageFull
		case strings.HasPrefix(pe.Code, "53"), // insufficient resources: memory, connections
			strings.HasPrefix(pe.Code, "08"),                           // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, cannot connect now
			pe.Code == "25006": // read-only transaction: a standby after failover
			return StorageDown
		}
		return ""
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne) {
		return StorageDown
	}
	return ""
}
