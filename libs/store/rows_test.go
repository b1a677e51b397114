package store_test

import (
	"context"
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
