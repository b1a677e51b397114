package sandbox

import (
	"embed"
	"io/fs"

	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the sandbox's tables in the payment database
// (component "payment-sandbox").
func Migrations() (store.MigrationSet, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return store.MigrationSet{}, err
	}
	return store.LoadMigrations("payment-sandbox", sub)
}
