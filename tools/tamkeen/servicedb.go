package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

// serviceDB says which database of one component an admin command works on:
// a production database (--db-dsn, --db-engine) or the <component>.db SQLite
// file of a `tamkeen dev` data dir (--data-dir).
type serviceDB struct {
	DataDir  string `flag:"data-dir" usage:"a tamkeen dev data dir (uses the component's .db file there); instead of --db-dsn"`
	DBEngine string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite (with --db-dsn)"`
	DBDSN    string `flag:"db-dsn" secret:"true" usage:"the component's database URL or SQLite file"`
}

// Validate reports what is wrong with the settings.
func (c serviceDB) Validate() error {
	var p config.Problems
	if (c.DataDir == "") == (c.DBDSN == "") {
		p.Add("", "give either --data-dir or --db-dsn")
	}
	if _, err := store.ParseEngine(c.DBEngine); err != nil {
		p.Add("db-engine", err.Error())
	}
	return p.Err()
}

// open opens component's database and applies sets.
func (c serviceDB) open(ctx context.Context, component string, sets ...store.MigrationSet) (*store.DB, error) {
	engine, dsn := store.Engine(c.DBEngine), c.DBDSN
	if c.DataDir != "" {
		engine, dsn = store.SQLite, filepath.Join(c.DataDir, component+".db")
	}
	db, err := store.Open(ctx, store.Options{Engine: engine, DSN: dsn})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, sets...); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s database: %w", component, err)
	}
	return db, nil
}
