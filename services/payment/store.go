package payment

import (
	"embed"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/sandbox"
)

// migrationFiles are the enabler's schema versions, one text for both
// engines except where a NNNN_name.postgres.sql replaces it (the ledger's
// append-only triggers).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`: the payments and ledger, the
// sandbox acquirer's tables (empty unless the sandbox is enabled) and the
// outbox.
func Migrations() ([]store.MigrationSet, error) {
	sb, err := sandbox.Migrations()
	if err != nil {
		return nil, err
	}
	return store.ComponentMigrations(Name, migrationFiles, "migrations", sb, events.Migrations)
}
