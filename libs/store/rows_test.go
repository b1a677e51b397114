package store_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestCollectRows: every row in order, a scan error ends the read, and an
// empty result is no error.
func TestCollectRows(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE collect_t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"a", "b", "c"} {
			if _, err := db.ExecContext(ctx, `INSERT INTO collect_t (id, n) VALUES ($1, $2)`, id, i+1); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := db.QueryContext(ctx, `SELECT id FROM collect_t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := store.CollectColumn[string](rows)
		if err != nil || !slices.Equal(ids, []string{"a", "b", "c"}) {
			t.Errorf("CollectColumn = %v, %v; want [a b c]", ids, err)
		}
		type pair struct {
			id string
			n  int64
		}
		rows, err = db.QueryContext(ctx, `SELECT id, n FROM collect_t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := store.CollectRows(rows, func(r store.Row) (pair, error) {
			var p pair
			return p, r.Scan(&p.id, &p.n)
		})
		if err != nil || len(ps) != 3 || ps[2] != (pair{"c", 3}) {
			t.Errorf("CollectRows = %v, %v; want a1 b2 c3", ps, err)
		}
		boom := errors.New("boom")
		rows, err = db.QueryContext(ctx, `SELECT id FROM collect_t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := store.CollectRows(rows, func(store.Row) (string, error) { return "", boom }); !errors.Is(err, boom) || got != nil {
			t.Errorf("CollectRows with a failing scan = %v, %v; want nil, boom", got, err)
		}
		rows, err = db.QueryContext(ctx, `SELECT id, n FROM collect_t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		byID, err := store.CollectMap(rows, func(r store.Row) (string, int64, error) {
			var id string
			var n int64
			return id, n, r.Scan(&id, &n)
		})
		if err != nil || len(byID) != 3 || byID["a"] != 1 || byID["c"] != 3 {
			t.Errorf("CollectMap = %v, %v; want a:1 b:2 c:3", byID, err)
		}
		rows, err = db.QueryContext(ctx, `SELECT id FROM collect_t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := store.CollectMap(rows, func(store.Row) (string, int, error) { return "", 0, boom }); !errors.Is(err, boom) || got != nil {
			t.Errorf("CollectMap with a failing scan = %v, %v; want nil, boom", got, err)
		}
		rows, err = db.QueryContext(ctx, `SELECT id FROM collect_t WHERE id = 'none'`)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := store.CollectColumn[string](rows); err != nil || len(got) != 0 {
			t.Errorf("CollectColumn of no rows = %v, %v; want empty", got, err)
		}
	})
}

// TestChangedOne: a compare-and-set that one caller wins reads true once
// and false after; a DELETE of several rows is ChangedAny but not
// ChangedOne; the statement's own error comes back.
func TestChangedOne(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE changed_t (id TEXT PRIMARY KEY, state TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO changed_t (id, state) VALUES ('a', 'new'), ('b', 'new'), ('c', 'new')`); err != nil {
			t.Fatal(err)
		}
		take := func() (bool, error) {
			return store.ChangedOne(db.ExecContext(ctx, `UPDATE changed_t SET state = 'taken' WHERE id = 'a' AND state = 'new'`))
		}
		if won, err := take(); !won || err != nil {
			t.Fatalf("first take = %v, %v; want true, nil", won, err)
		}
		if won, err := take(); won || err != nil {
			t.Fatalf("second take = %v, %v; want false, nil", won, err)
		}
		deleteNew := `DELETE FROM changed_t WHERE state = 'new'`
		if one, err := store.ChangedOne(db.ExecContext(ctx, `SELECT 1 WHERE 1 = 0`)); one || err != nil {
			t.Errorf("ChangedOne of a statement changing nothing = %v, %v; want false, nil", one, err)
		}
		errUndo := errors.New("undo")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if one, err := store.ChangedOne(tx.ExecContext(ctx, deleteNew)); one || err != nil {
				t.Errorf("ChangedOne of a DELETE of two rows = %v, %v; want false, nil", one, err)
			}
			return errUndo
		})
		if !errors.Is(err, errUndo) {
			t.Fatal(err)
		}
		if changed, err := store.ChangedAny(db.ExecContext(ctx, deleteNew)); !changed || err != nil {
			t.Errorf("ChangedAny of a DELETE of two rows = %v, %v; want true, nil", changed, err)
		}
		if changed, err := store.ChangedAny(db.ExecContext(ctx, deleteNew)); changed || err != nil {
			t.Errorf("ChangedAny of a DELETE of none = %v, %v; want false, nil", changed, err)
		}
		if _, err := store.ChangedOne(db.ExecContext(ctx, `UPDATE no_such_table SET x = 1`)); err == nil {
			t.Error("ChangedOne of a failing statement = nil error; want the statement's error")
		}
	})
}
