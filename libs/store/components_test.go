package store_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/tamkeen/tamkeen/libs/store"
)

func TestComponentMigrations(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE a (id TEXT PRIMARY KEY);")},
	}
	lib := store.MigrationSet{Component: "lib", Migrations: []store.Migration{{Version: 1, Name: "x", SQL: "CREATE TABLE b (id TEXT);"}}}
	sets, err := store.ComponentMigrations("svc", fsys, "migrations", lib)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].Component != "svc" || len(sets[0].Migrations) != 1 || sets[1].Component != "lib" {
		t.Fatalf("ComponentMigrations = %+v; want svc's own set, then lib", sets)
	}
	if _, err := store.ComponentMigrations("svc", fstest.MapFS{"migrations/bad.sql": {Data: []byte("x")}}, "migrations"); !errors.Is(err, store.ErrBadMigrations) {
		t.Fatalf("ComponentMigrations(bad file) = %v; want ErrBadMigrations", err)
	}
}
