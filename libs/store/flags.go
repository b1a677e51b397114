package store

import (
	"context"
	"fmt"

	"github.com/tamkeen/tamkeen/libs/config"
)

// Flags are the two settings of a command that works on one database,
// --db-engine and --db-dsn, for a config struct to embed (loaded by
// libs/config), so that every such command spells, checks and opens them
// the same way.
type Flags struct {
	DBEngine string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite"`
	DBDSN    string `flag:"db-dsn" secret:"true" required:"true" usage:"the database's PostgreSQL URL or SQLite file"`
	// DBMaxConns is the PostgreSQL pool size (open and kept idle); 0 means
	// DefaultPostgresConns. Replicas × pool size of every process on one
	// server must stay under its max_connections.
	DBMaxConns int `flag:"db-max-conns" default:"0" usage:"PostgreSQL connections this process opens and keeps (0: 8); replicas x this, summed over the processes sharing a server, must stay under its max_connections"`
}

// Validate reports an engine Open does not know and a pool size out of
// range.
func (f Flags) Validate() error {
	var p config.Problems
	f.Check(&p)
	return p.Err()
}

// Check records Validate's problems in p, for a config that embeds Flags
// beside settings of its own.
func (f Flags) Check(p *config.Problems) {
	if _, err := ParseEngine(f.DBEngine); err != nil {
		p.Add("db-engine", err.Error())
	}
	p.Range("db-max-conns", f.DBMaxConns, 0, 1000)
}

// Open opens the database the flags name and applies sets (none: it
// migrates nothing). A database that fails to migrate is closed again.
func (f Flags) Open(ctx context.Context, sets ...MigrationSet) (*DB, error) {
	db, err := Open(ctx, Options{Engine: Engine(f.DBEngine), DSN: f.DBDSN, MaxOpenConns: f.DBMaxConns})
	if err != nil {
		return nil, err
	}
	if len(sets) > 0 {
		if err := db.Migrate(ctx, sets...); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// ParseEngine returns the engine called name, the value of a --db-engine
// setting: postgres or sqlite (no default: an empty name is an error).
func ParseEngine(name string) (Engine, error) {
	switch e := Engine(name); e {
	case Postgres, SQLite:
		return e, nil
	}
	return "", fmt.Errorf("%q is not postgres or sqlite", name)
}
