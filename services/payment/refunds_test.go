package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

func TestRefunds(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		p := h.pay(fee("R"))
		r1, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 1, "one fils", "rk-1")
		if err != nil || r1.State != RefundSucceeded {
			t.Fatalf("refund: %+v, %v", r1, err)
		}
		again, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 1, "one fils", "rk-1")
		if err != nil || again.ID != r1.ID {
			t.Fatalf("same refund key: %+v, %v; want the same refund", again, err)
		}
		if _, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 2, "one fils", "rk-1"); !errors.Is(err, ErrIdempotencyMismatch) {
			t.Errorf("refund key with another body: %v", err)
		}
		if got := h.get(p.ID); got.State != PartiallyRefunded || got.RefundedAmount != 1 {
			t.Fatalf("after partial refund: %s, %d", got.State, got.RefundedAmount)
		}
		_, err = h.svc.CreateRefund(ctx, ministryA, p.ID, 100000, "too much", "")
		if !errors.Is(err, ErrOverRefund) || !errors.Is(err, rpcerr.ErrFailedPrecondition) {
			t.Fatalf("over-refund: %v", err)
		}
		if _, err := h.svc.CreateRefund(ctx, ministryB, p.ID, 1, "", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("ministry B refunding A's payment: %v", err)
		}
		if _, err := h.svc.CreateRefund(ctx, ministryA, p.ID, 99999, "rest", ""); err != nil {
			t.Fatal(err)
		}
		if got := h.get(p.ID); got.State != Refunded || got.RefundedAmount != 100000 {
			t.Fatalf("after full refund: %s, %d", got.State, got.RefundedAmount)
		}
		// Every department got back exactly what it was credited.
		bals, _ := h.svc.Balances(ctx, PlatformLedger, "JOD")
		for _, b := range bals {
			want := map[string]int64{"clearing:sandbox": 0, "dept:land-registry": -50000, "refunds:dept:land-registry": 50000,
				"dept:municipality": -30000, "refunds:dept:municipality": 30000, "dept:treasury": -20000, "refunds:dept:treasury": 20000}[b.Account]
			if b.Net() != want {
				t.Errorf("%s = %d; want %d", b.Account, b.Net(), want)
			}
		}
		unpaid := h.create(fee("U"))
		if _, err := h.svc.CreateRefund(ctx, ministryA, unpaid.ID, 1, "", ""); !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("refunding an unpaid payment: %v", err)
		}
		if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.refunded'`); n != 2 {
			t.Errorf("%d payment.refunded events; want 2", n)
		}
		h.checkLedger()
	})
}

// TestConcurrentRefundsCannotOverRefund: 16 concurrent refunds of 30.000
// JOD against a 100.000 JOD payment; at most three succeed, the others are
// refused, and the refunded total never exceeds what was paid.
func TestConcurrentRefundsCannotOverRefund(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		p := h.pay(fee("CR"))
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, over := 0, 0
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := h.svc.CreateRefund(context.Background(), ministryA, p.ID, 30000, "", fmt.Sprintf("k%d", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrOverRefund):
					over++
				default:
					t.Errorf("refund %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok != 3 || over != n-3 {
			t.Errorf("%d refunds succeeded and %d were refused; want 3 and %d", ok, over, n-3)
		}
		if got := h.get(p.ID); got.RefundedAmount != 90000 {
			t.Errorf("refunded %d; want 90000", got.RefundedAmount)
		}
		h.checkLedger()
	})
}

func TestDisputes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		won := h.pay(fee("DW"))
		if err := h.sb.OpenDispute(ctx, won.ProviderRef, "fraudulent"); err != nil {
			t.Fatal(err)
		}
		if got := h.get(won.ID); got.State != Disputed {
			t.Fatalf("after dispute.opened: %s", got.State)
		}
		if _, err := h.svc.CreateRefund(ctx, ministryA, won.ID, 1, "", ""); !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("refund while disputed: %v; want refused", err)
		}
		if err := h.sb.ResolveDispute(ctx, won.ProviderRef, true); err != nil {
			t.Fatal(err)
		}
		if got := h.get(won.ID); got.State != Won {
			t.Fatalf("after dispute.won: %s", got.State)
		}
		if _, err := h.svc.CreateRefund(ctx, ministryA, won.ID, 10, "goodwill", ""); err != nil {
			t.Errorf("refund after a won dispute: %v", err)
		}
		lost := h.pay(fee("DL"))
		if _, err := h.svc.CreateRefund(ctx, ministryA, lost.ID, 40000, "part", ""); err != nil {
			t.Fatal(err)
		}
		if err := h.sb.OpenDispute(ctx, lost.ProviderRef, "not received"); err != nil {
			t.Fatal(err)
		}
		if err := h.sb.ResolveDispute(ctx, lost.ProviderRef, false); err != nil {
			t.Fatal(err)
		}
		if got := h.get(lost.ID); got.State != Lost {
			t.Fatalf("after dispute.lost: %s", got.State)
		}
		// The lost dispute reversed what the departments still held: 60.000.
		var charged int64
		if err := db.QueryRowContext(ctx, `SELECT SUM(e.debit) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind = 'dispute_lost' AND t.ref = $1`, lost.ID).Scan(&charged); err != nil || charged != 60000 {
			t.Errorf("lost dispute posted %d, %v; want 60000", charged, err)
		}
		if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.disputed'`); n != 4 {
			t.Errorf("%d payment.disputed events; want 4 (opened, won, opened, lost)", n)
		}
		h.checkLedger()
	})
}

// TestReconciliation pays three payments and refunds one, then reconciles
// a settlement report in which one charge is missing and one amount is
// wrong: both are named, the rest match and settle to the bank once.
func TestReconciliation(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		a, b, c := h.pay(fee("A")), h.pay(fee("B")), h.pay(fee("C"))
		if _, err := h.svc.CreateRefund(ctx, ministryA, a.ID, 5000, "", ""); err != nil {
			t.Fatal(err)
		}
		day := h.clk.Now()
		lines, err := h.sb.SettlementReport(ctx, day)
		if err != nil || len(lines) != 4 {
			t.Fatalf("report: %d lines, %v; want 4", len(lines), err)
		}
		clean, err := h.svc.ReconcileLines(ctx, "finance", PlatformLedger, "sandbox", day, lines)
		if err != nil || clean.Matched != 4 || len(clean.MissingInLedger)+len(clean.MissingInReport)+len(clean.Mismatched) != 0 {
			t.Fatalf("clean report: %+v, %v", clean, err)
		}
		var tampered []provider.SettlementLine
		for _, l := range lines {
			switch l.ChargeRef {
			case b.ProviderRef:
				continue // missing from the report
			case c.ProviderRef:
				l.Amount = 99999 // one fils short
			}
			tampered = append(tampered, l)
		}
		tampered = append(tampered, provider.SettlementLine{Date: day, Type: "charge", ChargeRef: "ch_unknown", Ref: "ch_unknown", Amount: 500, Currency: "JOD"})
		rec, err := h.svc.ReconcileLines(ctx, "finance", PlatformLedger, "sandbox", day, tampered)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Matched != 2 {
			t.Errorf("matched %d; want 2", rec.Matched)
		}
		if len(rec.MissingInReport) != 1 || rec.MissingInReport[0].PaymentID != b.ID || rec.MissingInReport[0].LedgerAmount != 100000 {
			t.Errorf("missing in report %+v; want payment %s", rec.MissingInReport, b.ID)
		}
		if len(rec.Mismatched) != 1 || rec.Mismatched[0].PaymentID != c.ID || rec.Mismatched[0].LedgerAmount != 100000 || rec.Mismatched[0].ReportAmount != 99999 {
			t.Errorf("mismatched %+v; want payment %s 100000 vs 99999", rec.Mismatched, c.ID)
		}
		if len(rec.MissingInLedger) != 1 || rec.MissingInLedger[0].ProviderRef != "ch_unknown" {
			t.Errorf("missing in ledger %+v", rec.MissingInLedger)
		}
		if rec.Settled != 0 {
			t.Errorf("second run settled %d; want 0 (the first run did)", rec.Settled)
		}
		bals, _ := h.svc.Balances(ctx, PlatformLedger, "JOD")
		for _, bal := range bals {
			if bal.Account == "bank:sandbox" && bal.Net() != 295000 {
				t.Errorf("bank balance %d; want 295000 (three captures less one refund)", bal.Net())
			}
			if bal.Account == "clearing:sandbox" && bal.Net() != 0 {
				t.Errorf("clearing balance %d; want 0 after settlement", bal.Net())
			}
		}
		// Through the provider interface, with the report's CSV date.
		full, err := h.svc.Reconcile(ctx, "finance", PlatformLedger, "sandbox", day.Format(time.DateOnly))
		if err != nil || full.Matched != 4 {
			t.Errorf("Reconcile: %+v, %v", full, err)
		}
		if _, err := h.svc.Reconcile(ctx, "finance", PlatformLedger, "sandbox", "01/03/2026"); err == nil {
			t.Error("a bad date was accepted")
		}
		h.checkLedger()
	})
}

// TestLedgerProperty runs random sequences of payments, partial refunds,
// and disputes won and lost, in all three currencies, and checks after
// every step that every ledger invariant holds and nothing is ever
// refunded beyond what was paid.
func TestLedgerProperty(t *testing.T) {
	steps := 120
	if testing.Short() {
		steps = 30
	}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		r := rand.New(rand.NewPCG(7, uint64(len(t.Name()))))
		var paid []Payment
		curs := []Currency{ILS, JOD, USD}
		for step := range steps {
			switch op := r.IntN(10); {
			case op < 4 || len(paid) == 0: // a new payment, split 1..4 ways
				cur := curs[r.IntN(3)]
				n := 1 + r.IntN(4)
				in := CreateInput{Currency: string(cur), Reference: fmt.Sprintf("P%d", step), Description: "fee",
					ReturnURL: "https://m.example/r"}
				for i := range n {
					amt := 1 + r.Int64N(200000)
					in.Splits = append(in.Splits, Split{Account: fmt.Sprintf("dept:d%d", i), Amount: amt})
					in.Amount += amt
				}
				paid = append(paid, h.pay(in))
			case op < 8: // a partial (possibly excessive) refund
				p := paid[r.IntN(len(paid))]
				amt := 1 + r.Int64N(p.Amount)
				_, err := h.svc.CreateRefund(ctx, ministryA, p.ID, amt, "", "")
				if err != nil && !errors.Is(err, rpcerr.ErrFailedPrecondition) {
					t.Fatalf("step %d refund: %v", step, err)
				}
			default: // a dispute, won or lost
				p := paid[r.IntN(len(paid))]
				if err := h.sb.OpenDispute(ctx, p.ProviderRef, "x"); err == nil {
					if err := h.sb.ResolveDispute(ctx, p.ProviderRef, r.IntN(2) == 0); err != nil {
						t.Fatalf("step %d resolve: %v", step, err)
					}
				}
			}
			if step%10 == 9 || step == steps-1 {
				rep := h.checkLedger()
				if t.Failed() {
					t.Fatalf("invariants broken after step %d", step)
				}
				for _, tot := range rep.Totals {
					if tot.Net() != 0 {
						t.Fatalf("trial balance of %s off by %d", tot.Currency, tot.Net())
					}
				}
			}
		}
		if n := h.count(`SELECT COUNT(*) FROM payments WHERE refunded_amount > amount`); n != 0 {
			t.Errorf("%d payments refunded beyond their amount", n)
		}
		if n := h.count(`SELECT COUNT(DISTINCT currency) FROM ledger_transactions`); n != 3 {
			t.Errorf("ledger holds %d currencies; want all 3", n)
		}
	})
}

// TestLedgerIsAppendOnly: the database refuses to change or delete a
// posting, on both engines.
func TestLedgerIsAppendOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		h.pay(fee("AO"))
		ctx := context.Background()
		for _, q := range []string{
			`UPDATE ledger_entries SET debit = debit + 1 WHERE debit > 0`,
			`DELETE FROM ledger_entries`,
			`UPDATE ledger_transactions SET currency = 'USD'`,
			`DELETE FROM ledger_transactions`,
		} {
			if _, err := db.ExecContext(ctx, q); err == nil {
				t.Errorf("%s succeeded; the ledger must be append-only", q)
			}
		}
		// Tampering with a balance is what the checker is for.
		if _, err := db.ExecContext(ctx, `UPDATE ledger_balances SET credits = credits + 1 WHERE account = 'dept:treasury'`); err != nil {
			t.Fatal(err)
		}
		rep, err := CheckLedger(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) == 0 {
			t.Fatal("CheckLedger found nothing wrong with a tampered balance")
		}
		t.Logf("checker: %v", rep.Problems)
	})
}
