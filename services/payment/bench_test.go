package payment

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// benchEngines runs b on SQLite and PostgreSQL.
func benchEngines(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLiteFile(b, b.TempDir()+"/bench.db")) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.PostgresDB(b, storetest.PostgresDatabase(b))) })
}

// BenchmarkCreateAndConfirm is one payment created (with an
// Idempotency-Key), paid on the sandbox checkout, confirmed by the signed
// webhook, posted to the ledger and announced in the outbox.
func BenchmarkCreateAndConfirm(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		h := newHarness(b, db, nil)
		b.ResetTimer()
		for i := range b.N {
			in := fee(fmt.Sprintf("B%d", i))
			in.IdempotencyKey = fmt.Sprintf("bench-%d", i)
			p, err := h.svc.CreatePayment(context.Background(), ministryA, in)
			if err != nil {
				b.Fatal(err)
			}
			if resp := h.checkout(p, "4242424242424242"); resp.StatusCode != http.StatusSeeOther {
				b.Fatalf("checkout %d", resp.StatusCode)
			}
		}
		b.StopTimer()
		if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture'`); n != b.N {
			b.Fatalf("%d captures; want %d", n, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
	})
}

// BenchmarkLedgerPost is one balanced four-entry posting (a capture split
// three ways) with its balance updates, in its own transaction.
func BenchmarkLedgerPost(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		h := newHarness(b, db, nil)
		splits := fee("x").Splits
		b.ResetTimer()
		for i := range b.N {
			err := db.InTx(context.Background(), func(tx *sql.Tx) error {
				_, err := h.svc.post(context.Background(), tx, CapturePosting(fmt.Sprintf("pay_%d", i), "sandbox", JOD, 100000, splits), h.clk.Now())
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "postings/s")
	})
}

// BenchmarkReadPayments is one payment read alone (GetPayment) and one list
// page of 50 (ListPayments), each with its splits and transitions.
func BenchmarkReadPayments(b *testing.B) {
	benchEngines(b, func(b *testing.B, db *store.DB) {
		h := newHarness(b, db, nil)
		ctx := context.Background()
		var last Payment
		for i := range 50 {
			last = h.create(fee(fmt.Sprintf("R%d", i)))
		}
		b.Run("get", func(b *testing.B) {
			for b.Loop() {
				if _, err := h.svc.GetPayment(ctx, ministryA, last.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("list-50", func(b *testing.B) {
			for b.Loop() {
				if page, _, err := h.svc.ListPayments(ctx, ministryA, ListFilter{PageSize: 50}); err != nil || len(page) != 50 {
					b.Fatalf("ListPayments = %d, %v", len(page), err)
				}
			}
		})
	})
}
