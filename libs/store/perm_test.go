package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
)

// TestSQLiteFilesAre0600: a fresh database and its -wal and -shm files are
// readable by their owner only, whatever the umask (they were 0644 under
// the usual 022); a looser existing file is tightened on open. Both a
// plain path and a file: URI.
func TestSQLiteFilesAre0600(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dsn, path string }{
		{filepath.Join(dir, "sub", "fresh.db"), filepath.Join(dir, "sub", "fresh.db")},
		{"file:" + filepath.Join(dir, "uri.db") + "?cache=private", filepath.Join(dir, "uri.db")},
		{loose, loose},
	} {
		db, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, DSN: tc.dsn})
		if err != nil {
			t.Fatalf("Open(%s): %v", tc.dsn, err)
		}
		if _, err := db.Exec(`CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('secret')`); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{tc.path, tc.path + "-wal", tc.path + "-shm"} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Errorf("stat %s: %v", f, err)
				continue
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s mode = %v; want -rw-------", filepath.Base(f), got)
			}
		}
		db.Close()
	}
}
