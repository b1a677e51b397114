package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

var idempotencyTable = store.MigrationSet{Component: "app", Migrations: []store.Migration{{Version: 1, Name: "keys", SQL: `
CREATE TABLE idempotency_keys (client_id TEXT NOT NULL, scope TEXT NOT NULL, idem_key TEXT NOT NULL,
	request_hash TEXT NOT NULL, resource_id TEXT NOT NULL, created_at TIMESTAMP NOT NULL,
	PRIMARY KEY (client_id, scope, idem_key))`}}}

// TestIdempotencyKeys: the first claim binds the key; the same request
// finds the first id, another is refused; another client's or scope's key
// is its own; an expired key is taken over; Earlier answers like Claim
// without a transaction; pruning forgets expired keys.
func TestIdempotencyKeys(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, idempotencyTable); err != nil {
			t.Fatal(err)
		}
		const ttl = time.Hour
		now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
		claim := func(k store.IdempotencyKey, id string, at time.Time) (got string, existing bool, err error) {
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				got, existing, err = k.Claim(ctx, tx, id, at, ttl)
				return err
			})
			return got, existing, err
		}
		k := store.NewIdempotencyKey("moh", "send", "k-1", map[string]string{"to": "+970599000001"})
		if got, existing, err := claim(k, "ntf_1", now); err != nil || existing || got != "ntf_1" {
			t.Fatalf("first claim = %s, %v, %v; want ntf_1, new", got, existing, err)
		}
		if got, existing, err := claim(k, "ntf_2", now.Add(time.Minute)); err != nil || !existing || got != "ntf_1" {
			t.Fatalf("same request = %s, %v, %v; want ntf_1, existing", got, existing, err)
		}
		if id, found, err := k.Earlier(ctx, db, now.Add(time.Minute), ttl); err != nil || !found || id != "ntf_1" {
			t.Fatalf("Earlier = %s, %v, %v; want ntf_1", id, found, err)
		}
		other := store.NewIdempotencyKey("moh", "send", "k-1", map[string]string{"to": "+970599000002"})
		if _, _, err := claim(other, "ntf_3", now.Add(time.Minute)); !errors.Is(err, store.ErrIdempotencyKeyReused) {
			t.Fatalf("other request with the key = %v; want ErrIdempotencyKeyReused", err)
		}
		if _, _, err := other.Earlier(ctx, db, now.Add(time.Minute), ttl); !errors.Is(err, store.ErrIdempotencyKeyReused) {
			t.Fatalf("Earlier of another request = %v; want ErrIdempotencyKeyReused", err)
		}
		for _, k2 := range []store.IdempotencyKey{store.NewIdempotencyKey("mof", "send", "k-1", 1), store.NewIdempotencyKey("moh", "bulk", "k-1", 1)} {
			if got, existing, err := claim(k2, "x", now); err != nil || existing || got != "x" {
				t.Fatalf("%+v = %s, %v, %v; want a key of its own", k2, got, existing, err)
			}
		}
		later := now.Add(2 * ttl)
		if _, found, err := other.Earlier(ctx, db, later, ttl); err != nil || found {
			t.Fatalf("Earlier of an expired key = %v, %v; want not found", found, err)
		}
		if got, existing, err := claim(other, "ntf_4", later); err != nil || existing || got != "ntf_4" {
			t.Fatalf("expired key = %s, %v, %v; want taken over by ntf_4", got, existing, err)
		}
		if n, err := store.PruneIdempotencyKeys(ctx, db, later); err != nil || n != 2 {
			t.Fatalf("prune = %d, %v; want the 2 keys claimed before", n, err)
		}
		if got, existing, err := claim(store.IdempotencyKey{}, "y", now); err != nil || existing || got != "y" {
			t.Fatalf("no key = %s, %v, %v; want y", got, existing, err)
		}
	})
}
