package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

func TestFlags(t *testing.T) {
	t.Parallel()
	var cfg struct{ store.Flags }
	path := filepath.Join(t.TempDir(), "x.db")
	err := config.Load(&cfg, nil, nil, func(k string) (string, bool) {
		v, ok := map[string]string{"TAMKEEN_DB_ENGINE": "sqlite", "TAMKEEN_DB_DSN": path}[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("Load = %v; want nil", err)
	}
	set := store.MigrationSet{Component: "flagstest", Migrations: []store.Migration{{Version: 1, Name: "t", SQL: "CREATE TABLE t (x INTEGER)"}}}
	db, err := cfg.Open(context.Background(), set)
	if err != nil {
		t.Fatalf("Open = %v; want nil", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "INSERT INTO t (x) VALUES (1)"); err != nil {
		t.Errorf("the migration did not run: %v", err)
	}

	var ce *config.Error
	var fresh struct{ store.Flags }
	bad := config.Load(&fresh, nil, nil, func(k string) (string, bool) {
		v, ok := map[string]string{"TAMKEEN_DB_ENGINE": "mysql"}[k]
		return v, ok
	})
	if !errors.As(bad, &ce) || len(ce.Problems) != 2 || ce.Problems[0].Flag != "db-dsn" || ce.Problems[1].Flag != "db-engine" {
		t.Errorf("Load(mysql, no dsn) = %v; want db-dsn required and db-engine unknown", bad)
	}
}

func TestParseEngine(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]store.Engine{"postgres": store.Postgres, "sqlite": store.SQLite, "": "", "SQLite": ""} {
		got, err := store.ParseEngine(name)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseEngine(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}
