package store

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
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
// A database file is created (or tightened) to mode 0600 first, whatever
// the umask: it holds sealed PII, password hashes and key material, and
// SQLite gives the -wal and -shm files it creates the database file's
// mode (Open chmods them too, once they exist).
func openSQLite(dsn string) (*sql.DB, error) {
	full, err := sqliteDSN(dsn)
	if err != nil {
		return nil, err
	}
	if path := sqliteFilePath(dsn); path != "" {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: create %s: %w", path, err)
		}
		_ = f.Close()
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("store: chmod %s: %w", path, err)
		}
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

// sqliteFilePath is the database file a SQLite DSN names on disk, or ""
// for in-memory databases.
func sqliteFilePath(dsn string) string {
	if dsn == "" || dsn == ":memory:" {
		return ""
	}
	rest, isURI := strings.CutPrefix(dsn, "file:")
	if !isURI {
		return dsn
	}
	path, query, _ := strings.Cut(rest, "?")
	q, _ := url.ParseQuery(query)
	if q.Get("vfs") == "memdb" || q.Get("mode") == "memory" || path == ":memory:" || path == "" {
		return ""
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	return path
}

// chmodSQLiteSidecars sets the -wal and -shm files of the database at
// path (when they exist) to 0600, in case SQLite created them before the
// database file was tightened or under a looser umask.
func chmodSQLiteSidecars(path string) error {
	for _, suffix := range []string{"-wal", "-shm"} {
		err := os.Chmod(path+suffix, 0o600)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: chmod %s%s: %w", path, suffix, err)
		}
	}
	return nil
}
