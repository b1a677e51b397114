package store

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	// The pure-Go SQLite driver registers itself as "sqlite".
	_ "modernc.org/sqlite"
)

// sqliteParams are added to every SQLite DSN. _txlock=immediate makes
// BEGIN take the write lock at once, so two writers queue on busy_timeout
// instead of one failing when it upgrades a read lock.
var sqliteParams = []string{
	"_pragma=foreign_keys(1)",
	"_pragma=journal_mode(WAL)",
	"_pragma=busy_timeout(5000)",
	"_time_format=sqlite",
	"_timezone=UTC",
	"_txlock=immediate",
}

// openSQLite opens (without pinging) the SQLite database that dsn names.
func openSQLite(dsn string) (*sql.DB, error) {
	full, err := sqliteDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", full)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	return db, nil
}

// sqliteDSN turns a path, file: URI or ":memory:" into the driver's DSN with
// Tamkeen's parameters, creating the file's directory when needed.
func sqliteDSN(dsn string) (string, error) {
	switch {
	case dsn == "":
		return "", fmt.Errorf("%w: SQLite needs a DSN (a file path or %q)", ErrBadOptions, ":memory:")
	case dsn == ":memory:":
		// Each connection to plain :memory: would see its own empty
		// database; the memdb VFS shares one by name until the last
		// connection closes.
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("store: name in-memory database: %w", err)
		}
		return "file:/tamkeen-" + hex.EncodeToString(b[:]) + "?vfs=memdb&" + strings.Join(sqliteParams, "&"), nil
	case strings.HasPrefix(dsn, "file:"):
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + strings.Join(sqliteParams, "&"), nil
	}
	if strings.ContainsAny(dsn, "?#") {
		return "", fmt.Errorf("%w: SQLite path %q contains ? or #; use a file: URI", ErrBadOptions, dsn)
	}
	if dir := filepath.Dir(dsn); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("store: create directory for %s: %w", dsn, err)
		}
	}
	return dsn + "?" + strings.Join(sqliteParams, "&"), nil
}
