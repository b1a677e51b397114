package payment

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
	"github.com/tamkeen/tamkeen/services/payment/sandbox"
)

// sqliteCommits counts the write transactions SQLite commits on the
// connections of each database whose file name ends in commitsDB (its
// commit hook runs for a transaction that wrote, never for a read).
var (
	sqliteCommits     sync.Map // DSN → *atomic.Int64
	sqliteCommitsOnce sync.Once
)

const commitsDB = "/commits.db"

// countingSQLite opens a SQLite database whose commits countCommits reads.
func countingSQLite(t *testing.T) (*store.DB, func() int64) {
	t.Helper()
	sqliteCommitsOnce.Do(func() {
		sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, dsn string) error {
			hr, ok := conn.(sqlite.HookRegisterer)
			if !ok || !strings.Contains(dsn, commitsDB) {
				return nil
			}
			n, _ := sqliteCommits.LoadOrStore(dsn, new(atomic.Int64))
			hr.RegisterCommitHook(func() int32 { n.(*atomic.Int64).Add(1); return 0 })
			return nil
		})
	})
	dir := t.TempDir()
	db := storetest.SQLiteFile(t, dir+commitsDB)
	return db, func() int64 {
		var total int64
		sqliteCommits.Range(func(k, v any) bool {
			if strings.Contains(k.(string), dir+commitsDB) {
				total += v.(*atomic.Int64).Load()
			}
			return true
		})
		return total
	}
}

// writers is how many transactions wrote the rows a create made for
// payment id on PostgreSQL: the distinct xmin (the writing transaction's
// id) of its payment, splits, transitions, Idempotency-Key and sandbox
// charge rows.
func writers(t *testing.T, h *harness, id string) int {
	t.Helper()
	var n int
	err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(DISTINCT x) FROM (
		SELECT xmin::text AS x FROM payments WHERE id = $1
		UNION ALL SELECT xmin::text FROM payment_splits WHERE payment_id = $1
		UNION ALL SELECT xmin::text FROM payment_transitions WHERE payment_id = $1
		UNION ALL SELECT xmin::text FROM idempotency_keys WHERE resource_id = $1
		UNION ALL SELECT xmin::text FROM sandbox_charges WHERE payment_id = $1) w`, id).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCreateIsOneCommit: a payment created with an Idempotency-Key on the
// sandbox is one commit: the key's claim, the payment, its splits and
// transition and its charge at the acquirer, with next_url. SQLite counts
// the commits themselves (its commit hook); PostgreSQL the transactions
// that wrote the create's rows. Repeating the request commits nothing
// more than the key's read. The old path (charge in the acquirer's own
// transaction, then an UPDATE of next_url) committed three times.
func TestCreateIsOneCommit(t *testing.T) {
	check := func(t *testing.T, h *harness, commits func() int64) {
		ctx := context.Background()
		in := fee("PT-ONE")
		in.IdempotencyKey = "one-commit"
		var before int64
		if commits != nil {
			before = commits()
		}
		p, err := h.svc.CreatePayment(ctx, ministryA, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.ProviderRef, "ch_") || p.NextURL != testPublicURL+"/sandbox/checkout/"+p.ProviderRef {
			t.Fatalf("created with charge %q, next_url %q; want a sandbox charge and its checkout page", p.ProviderRef, p.NextURL)
		}
		if commits != nil {
			if got := commits() - before; got != 1 {
				t.Errorf("create committed %d times; want 1", got)
			}
		} else if got := writers(t, h, p.ID); got != 1 {
			t.Errorf("create's rows written by %d transactions; want 1", got)
		}
		again, err := h.svc.CreatePayment(ctx, ministryA, in)
		if err != nil || again.ID != p.ID || again.NextURL != p.NextURL {
			t.Fatalf("retry: %v, %s %s; want %s %s", err, again.ID, again.NextURL, p.ID, p.NextURL)
		}
		if got := h.count(`SELECT COUNT(*) FROM sandbox_charges`); got != 1 {
			t.Errorf("%d charges at the acquirer; want 1", got)
		}
		if resp := h.checkout(p, "4242424242424242"); resp.StatusCode != 303 || h.get(p.ID).State != Succeeded {
			t.Errorf("checkout: %d, payment %s; want 303 and succeeded", resp.StatusCode, h.get(p.ID).State)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		db, commits := countingSQLite(t)
		check(t, newHarness(t, db, nil), commits)
	})
	t.Run("postgres", func(t *testing.T) {
		check(t, newHarness(t, storetest.Postgres(t), nil), nil)
	})
}

// remoteAcquirer is the sandbox seen as a remote acquirer: only the
// Provider methods (no CreateChargeTx), under another name.
type remoteAcquirer struct{ provider.Provider }

func (remoteAcquirer) Name() string { return "remote" }

// TestCreateWithRemoteAcquirer: an acquirer whose charge is a remote call
// gets it after the payment commits, once per Idempotency-Key however many
// identical creates arrive at once.
func TestCreateWithRemoteAcquirer(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, func(cfg *Config, deps *Deps) {
			sb, err := sandbox.New(db, sandbox.Config{Secret: []byte(testSecret), PublicURL: testPublicURL,
				Deliver: func(context.Context, []byte, string) error { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			deps.Providers = append(deps.Providers, remoteAcquirer{sb})
		})
		in := fee("PT-REMOTE")
		in.Provider, in.IdempotencyKey = "remote", "remote-key"
		const n = 16
		got := make([]Payment, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = h.svc.CreatePayment(context.Background(), ministryA, in)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if got[i].ID != got[0].ID || got[i].ProviderRef != got[0].ProviderRef || got[i].NextURL != got[0].NextURL {
				t.Fatalf("create %d: %s %s; want %s %s", i, got[i].ID, got[i].ProviderRef, got[0].ID, got[0].ProviderRef)
			}
		}
		if got[0].Provider != "remote" || !strings.HasPrefix(got[0].NextURL, testPublicURL+"/sandbox/checkout/ch_") {
			t.Fatalf("payment at %q with next_url %q; want the remote acquirer's checkout", got[0].Provider, got[0].NextURL)
		}
		if c := h.count(`SELECT COUNT(*) FROM sandbox_charges`); c != 1 {
			t.Errorf("%d charges at the acquirer; want 1", c)
		}
	})
}
