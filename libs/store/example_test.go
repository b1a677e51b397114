package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// A service embeds its migrations directory (//go:embed migrations/*.sql),
// loads it once with LoadMigrations(component, files, "migrations") and
// migrates at start-up.
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) } // the service's injected clock
	migrations := fstest.MapFS{                                                    // stands in for the embedded directory
		"migrations/0001_create_payments.sql": {Data: []byte(`
CREATE TABLE payments (
	id         TEXT PRIMARY KEY,
	amount     BIGINT NOT NULL,
	currency   TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
)`)},
		"migrations/0002_add_receipt.sql":          {Data: []byte(`ALTER TABLE payments ADD COLUMN receipt BLOB`)},
		"migrations/0002_add_receipt.postgres.sql": {Data: []byte(`ALTER TABLE payments ADD COLUMN receipt BYTEA`)},
	}
	set, err := store.LoadMigrations("payment", migrations, "migrations")
	if err != nil {
		fmt.Println(err)
		return
	}
	db, err := store.Open(ctx, store.Options{DSN: ":memory:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := db.Migrate(ctx, set); err != nil {
		fmt.Println(err)
		return
	}

	err = db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, amount, currency, created_at) VALUES ($1, $2, $3, $4)`,
			"pay_1", 12500, "JOD", now()) // 12.500 JOD: three decimals
		return err
	})
	fmt.Println("insert:", err)
	_, err = db.ExecContext(ctx, `INSERT INTO payments (id, amount, currency, created_at) VALUES ($1, 1, 'ILS', $2)`, "pay_1", now())
	fmt.Println("duplicate id is a unique violation:", store.IsUniqueViolation(err))

	states, _ := db.MigrationStatus(ctx, set)
	for _, s := range states {
		fmt.Println(s.Component, s.Version, s.Name, s.Applied)
	}
	// Output:
	// insert: <nil>
	// duplicate id is a unique violation: true
	// payment 1 create_payments true
	// payment 2 add_receipt true
}
