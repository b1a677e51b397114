package payment

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// balanceOf is account's net balance (debits minus credits) in cur.
func (h *harness) balanceOf(account string, cur Currency) int64 {
	h.t.Helper()
	bals, err := h.svc.Balances(context.Background(), PlatformLedger, string(cur))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, b := range bals {
		if b.Account == account {
			return b.Net()
		}
	}
	return 0
}

// buyStamps buys and pays qty stamps of 5.00 ILS for dept:courts as
// client ministry-a and returns them as issued.
func (h *harness) buyStamps(qty int) []Stamp {
	h.t.Helper()
	o, err := h.svc.CreateStamps(context.Background(), ministryA, StampInput{FeeType: "court-fee", Value: 500, Currency: "ILS",
		Department: "dept:courts", Quantity: qty, ReturnURL: "https://courts.example/done", Ministry: "moj"})
	if err != nil {
		h.t.Fatalf("CreateStamps: %v", err)
	}
	if len(o.Stamps) != qty || o.Payment.Amount != 500*int64(qty) {
		h.t.Fatalf("order has %d stamps, amount %d; want %d stamps, %d", len(o.Stamps), o.Payment.Amount, qty, 500*qty)
	}
	for _, st := range o.Stamps {
		if got := st.StatusAt(h.clk.Now()); got != StampUnpaid {
			h.t.Fatalf("stamp %s before payment is %s; want unpaid", st.Serial, got)
		}
		if _, err := h.svc.GetStamp(context.Background(), st.Serial); !errors.Is(err, ErrStampNotFound) {
			h.t.Fatalf("GetStamp of an unpaid stamp = %v; want not found", err)
		}
	}
	if resp := h.checkout(o.Payment, "4242424242424242"); resp.StatusCode != 303 {
		h.t.Fatalf("checkout answered %d; want 303", resp.StatusCode)
	}
	if p := h.get(o.Payment.ID); p.State != Succeeded {
		h.t.Fatalf("stamp order's payment is %s; want succeeded", p.State)
	}
	var out []Stamp
	for _, st := range o.Stamps {
		got, err := h.svc.GetStamp(context.Background(), strings.ToLower(st.Serial))
		if err != nil {
			h.t.Fatalf("GetStamp %s: %v", st.Serial, err)
		}
		out = append(out, got)
	}
	return out
}

// TestStampLifecycle is issue 18.2 in the enabler: stamps bought through a
// payment are issued when it succeeds (valid for the configured time, the
// sale in the department's stamps liability); a ministry uses one for a
// document, once; the second use is refused naming who used it and when;
// the value moves to the department's revenue; the ledger holds.
func TestStampLifecycle(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, func(c *Config, _ *Deps) { c.StampValidity = 30 * 24 * time.Hour })
		stamps := h.buyStamps(2)
		now := h.clk.Now()
		for _, st := range stamps {
			if st.StatusAt(now) != StampValid || st.Buyer != ministryA || st.Value != 500 || st.FeeType != "court-fee" ||
				st.Department != "dept:courts" || !st.ExpireAt.Equal(st.IssuedAt.Add(30*24*time.Hour)) {
				t.Errorf("issued stamp = %+v; want valid for 30 days, bought by %s", st, ministryA)
			}
			if !serialRE.MatchString(st.Serial) {
				t.Errorf("serial %q is not printable PS-XXXXX-…", st.Serial)
			}
		}
		if stamps[0].Serial == stamps[1].Serial {
			t.Fatal("two stamps share a serial")
		}
		if got := h.balanceOf(StampsAccount("dept:courts"), ILS); got != -1000 {
			t.Errorf("stamps liability after the sale = %d; want -1000 (a credit of 10.00 ILS)", got)
		}
		if got := h.balanceOf("dept:courts", ILS); got != 0 {
			t.Errorf("department revenue before any use = %d; want 0", got)
		}
		h.checkLedger()

		h.clk.Advance(time.Hour)
		used, err := h.svc.CancelStamp(context.Background(), "moj-clerk", stamps[0].Serial, "CASE-2026-115")
		if err != nil {
			t.Fatalf("CancelStamp: %v", err)
		}
		if used.StatusAt(h.clk.Now()) != StampUsed || used.UsedBy != "moj-clerk" || used.DocumentRef != "CASE-2026-115" {
			t.Errorf("used stamp = %+v", used)
		}
		_, err = h.svc.CancelStamp(context.Background(), "mol-clerk", stamps[0].Serial, "APP-9")
		var again *StampUsedError
		if !errors.As(err, &again) || again.UsedBy != "moj-clerk" || !again.UsedAt.Equal(used.UsedAt) {
			t.Fatalf("second CancelStamp = %v; want a StampUsedError naming moj-clerk at %s", err, used.UsedAt)
		}
		if !strings.Contains(err.Error(), "moj-clerk") || !strings.Contains(err.Error(), used.UsedAt.UTC().Format(time.RFC3339)) {
			t.Errorf("refusal %q does not say who used the stamp and when", err)
		}
		got, err := h.svc.GetStamp(context.Background(), stamps[0].Serial)
		if err != nil || got.StatusAt(h.clk.Now()) != StampUsed || got.UsedBy != "moj-clerk" {
			t.Errorf("GetStamp after use = %+v, %v; want used by moj-clerk", got, err)
		}
		if got := h.balanceOf(StampsAccount("dept:courts"), ILS); got != -500 {
			t.Errorf("stamps liability after one use = %d; want -500", got)
		}
		if got := h.balanceOf("dept:courts", ILS); got != -500 {
			t.Errorf("department revenue after one use = %d; want -500", got)
		}
		h.checkLedger()
	})
}

// TestStampCancelRace: 16 ministries cancel one stamp at once; exactly one
// wins, the other 15 are told who won, and one use is posted.
func TestStampCancelRace(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		st := h.buyStamps(1)[0]
		const n = 16
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, errs[i] = h.svc.CancelStamp(context.Background(), fmt.Sprintf("ministry-%02d", i), st.Serial, fmt.Sprintf("DOC-%d", i))
			}(i)
		}
		close(start)
		wg.Wait()
		winner := ""
		for i, err := range errs {
			if err == nil {
				if winner != "" {
					t.Errorf("both %s and ministry-%02d used the stamp", winner, i)
				}
				winner = fmt.Sprintf("ministry-%02d", i)
			}
		}
		if winner == "" {
			t.Fatalf("no cancellation won: %v", errs)
		}
		for i, err := range errs {
			var used *StampUsedError
			if err != nil && (!errors.As(err, &used) || used.UsedBy != winner) {
				t.Errorf("ministry-%02d got %v; want a StampUsedError naming %s", i, err, winner)
			}
		}
		if got := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = $1 AND ref = $2`, KindStampUse, st.Serial); got != 1 {
			t.Errorf("stamp_use postings = %d; want 1", got)
		}
		h.checkLedger()
	})
}

// TestStampExpiry: a stamp unused at its expiry cannot be used; the sweep
// forfeits it, moving its value from the liability to the unused-stamps
// revenue account, once.
func TestStampExpiry(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, func(c *Config, _ *Deps) { c.StampValidity = 24 * time.Hour })
		stamps := h.buyStamps(2)
		if _, err := h.svc.CancelStamp(context.Background(), "moj-clerk", stamps[1].Serial, "CASE-1"); err != nil {
			t.Fatal(err)
		}
		h.clk.Advance(24 * time.Hour)
		if _, err := h.svc.CancelStamp(context.Background(), "moj-clerk", stamps[0].Serial, "CASE-2"); !errors.Is(err, ErrStampNotUsable) {
			t.Fatalf("CancelStamp of an expired stamp = %v; want ErrStampNotUsable", err)
		}
		for i := 0; i < 2; i++ {
			rep, err := h.svc.Sweep(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 - i; rep.Stamps != want {
				t.Errorf("sweep %d expired %d stamps; want %d", i+1, rep.Stamps, want)
			}
		}
		got, err := h.svc.GetStamp(context.Background(), stamps[0].Serial)
		if err != nil || got.StatusAt(h.clk.Now()) != StampExpired {
			t.Errorf("expired stamp = %+v, %v; want expired", got, err)
		}
		if got := h.balanceOf(StampsAccount("dept:courts"), ILS); got != 0 {
			t.Errorf("stamps liability after use and expiry = %d; want 0", got)
		}
		if got := h.balanceOf(UnusedStampsAccount, ILS); got != -500 {
			t.Errorf("%s = %d; want -500", UnusedStampsAccount, got)
		}
		h.checkLedger()
	})
}

// TestStampsAPI: over gRPC the buyer is the token's client (never the
// body), GetStamp needs no token and hides the document, CancelStamp needs
// stamps:cancel, and a second use answers AlreadyExists (HTTP 409).
func TestStampsAPI(t *testing.T) {
	clk := newClock()
	tk := newTokens(t, clk)
	h := newHarness(t, storetest.SQLite(t), func(_ *Config, d *Deps) { d.Verifier = tk.verifier(t); d.Now = clk.Now })
	h.clk = clk
	c := grpcClient(t, h)
	buyer := withToken(tk.clientOf(t, "moj-portal", "moj", scope.PaymentsWrite))
	o, err := c.CreateStamps(buyer, &paymentv1.CreateStampsRequest{FeeType: "court-fee", Value: 1000, Currency: "ILS",
		Department: "dept:courts", ReturnUrl: "https://courts.example/done"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.GetStamps()) != 1 || o.GetStamps()[0].GetBuyer() != "moj-portal" || o.GetStamps()[0].GetStatus() != "unpaid" {
		t.Fatalf("order = %v; want one unpaid stamp bought by moj-portal", o)
	}
	// With an Idempotency-Key, a retry is the same order (same payment,
	// same serials); the key with another order is refused.
	keyed := &paymentv1.CreateStampsRequest{FeeType: "court-fee", Value: 1000, Currency: "ILS", Department: "dept:courts",
		Quantity: 3, ReturnUrl: "https://courts.example/done", IdempotencyKey: "order-77"}
	first, err := c.CreateStamps(buyer, keyed)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateStamps(buyer, keyed)
	if err != nil || again.GetPayment().GetId() != first.GetPayment().GetId() || len(again.GetStamps()) != 3 ||
		again.GetStamps()[2].GetSerial() != first.GetStamps()[2].GetSerial() {
		t.Errorf("retried order = %v, %v; want the first order %v", again, err, first)
	}
	keyed.Quantity = 4
	if _, err := c.CreateStamps(buyer, keyed); status.Code(err) != codes.InvalidArgument {
		t.Errorf("the key with another order = %v; want InvalidArgument (key reused)", err)
	}
	if n := h.count(`SELECT COUNT(*) FROM stamps WHERE payment_id = $1`, first.GetPayment().GetId()); n != 3 {
		t.Errorf("stamps of the keyed order = %d; want 3", n)
	}
	h.pay2(o.GetPayment().GetId(), o.GetPayment().GetNextUrl())
	serial := o.GetStamps()[0].GetSerial()
	got, err := c.GetStamp(context.Background(), &paymentv1.GetStampRequest{Serial: serial})
	if err != nil || got.GetStatus() != "valid" {
		t.Fatalf("public GetStamp = %v, %v; want valid", got, err)
	}
	if _, err := c.CancelStamp(withToken(tk.client(t, "mol-app", scope.PaymentsWrite)), &paymentv1.CancelStampRequest{Serial: serial, DocumentRef: "X"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("CancelStamp without stamps:cancel = %v; want PermissionDenied", err)
	}
	clerk := withToken(tk.client(t, "moj-clerk", scope.StampsCancel))
	if _, err := c.CancelStamp(clerk, &paymentv1.CancelStampRequest{Serial: serial, DocumentRef: "CASE-7"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CancelStamp(clerk, &paymentv1.CancelStampRequest{Serial: serial, DocumentRef: "CASE-8"})
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(status.Convert(err).Message(), "moj-clerk") {
		t.Errorf("second CancelStamp = %v; want AlreadyExists naming moj-clerk", err)
	}
	got, err = c.GetStamp(context.Background(), &paymentv1.GetStampRequest{Serial: serial})
	if err != nil || got.GetStatus() != "used" || got.GetUsedBy() != "moj-clerk" || got.GetDocumentRef() != "" || got.GetUseTime() == nil ||
		got.GetPaymentId() != "" {
		t.Errorf("public GetStamp after use = %v, %v; want used by moj-clerk with its time, no document or payment", got, err)
	}
	for _, tc := range []struct {
		name string
		req  *paymentv1.CreateStampsRequest
		want string
	}{
		{"bad fee type", &paymentv1.CreateStampsRequest{FeeType: "Court Fee", Value: 100, Currency: "ILS", Department: "dept:courts", ReturnUrl: "https://c.example/"}, "fee_type"},
		{"bad department", &paymentv1.CreateStampsRequest{FeeType: "court-fee", Value: 100, Currency: "ILS", Department: "courts", ReturnUrl: "https://c.example/"}, "department"},
		{"too many", &paymentv1.CreateStampsRequest{FeeType: "court-fee", Value: 100, Currency: "ILS", Department: "dept:courts", Quantity: 101, ReturnUrl: "https://c.example/"}, "quantity"},
		{"no value", &paymentv1.CreateStampsRequest{FeeType: "court-fee", Currency: "ILS", Department: "dept:courts", ReturnUrl: "https://c.example/"}, "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateStamps(buyer, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CreateStamps = %v; want InvalidArgument naming %s", err, tc.want)
			}
		})
	}
	if _, err := c.GetStamp(context.Background(), &paymentv1.GetStampRequest{Serial: "PS-00000-00000-00000-00000"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetStamp of an unknown serial = %v; want NotFound", err)
	}
}

// TestStampOrderChargedBack: a stamp order is not refunded as a payment
// (its stamps would stay valid); when the payer wins a chargeback, its
// unused stamps are revoked (verification says revoked, a use is refused)
// and the department's account nets to zero; a stamp already used keeps
// its use.
func TestStampOrderChargedBack(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		stamps := h.buyStamps(2)
		paymentID := stamps[0].PaymentID
		if _, err := h.svc.CreateRefund(ctx, ministryA, paymentID, 500, "unwanted", ""); !errors.Is(err, ErrStampOrderRefund) {
			t.Fatalf("refund of a stamp order = %v; want ErrStampOrderRefund", err)
		}
		if _, err := h.svc.CancelStamp(ctx, "moj-clerk", stamps[1].Serial, "CASE-1"); err != nil {
			t.Fatal(err)
		}
		ref := h.get(paymentID).ProviderRef
		if err := h.sb.OpenDispute(ctx, ref, "fraudulent"); err != nil {
			t.Fatal(err)
		}
		if err := h.sb.ResolveDispute(ctx, ref, false); err != nil {
			t.Fatal(err)
		}
		if got := h.get(paymentID); got.State != Lost {
			t.Fatalf("after dispute.lost: %s", got.State)
		}
		got, err := h.svc.GetStamp(ctx, stamps[0].Serial)
		if err != nil || got.StatusAt(h.clk.Now()) != StampRevoked {
			t.Errorf("unused stamp after a lost dispute = %+v, %v; want revoked", got, err)
		}
		if _, err := h.svc.CancelStamp(ctx, "moj-clerk", stamps[0].Serial, "CASE-2"); !errors.Is(err, ErrStampNotUsable) {
			t.Errorf("use of a revoked stamp = %v; want ErrStampNotUsable", err)
		}
		if got, _ := h.svc.GetStamp(ctx, stamps[1].Serial); got.StatusAt(h.clk.Now()) != StampUsed {
			t.Errorf("used stamp after a lost dispute is %s; want used", got.StatusAt(h.clk.Now()))
		}
		if got := h.balanceOf(StampsAccount("dept:courts"), ILS); got != 0 {
			t.Errorf("stamps liability = %d; want 0", got)
		}
		// dept:courts: -1000 capture, +1000 sale, -500 use, -500 revoke;
		// disputes:dept:courts +1000: revenue net of the chargeback is 0.
		if got := h.balanceOf("dept:courts", ILS) + h.balanceOf(DisputesAccount("dept:courts"), ILS); got != 0 {
			t.Errorf("department revenue net of the chargeback = %d; want 0", got)
		}
		h.checkLedger()
	})
}

func TestNormalSerial(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"PS-7K2QD-M9X4T-0B8ZN-W3RJF", "PS-7K2QD-M9X4T-0B8ZN-W3RJF", true},
		{" ps-7k2qd-m9x4t-0b8zn-w3rjf ", "PS-7K2QD-M9X4T-0B8ZN-W3RJF", true},
		{"PS-7K2QD-M9X4T-OB8ZN-W3RJF", "PS-7K2QD-M9X4T-0B8ZN-W3RJF", true}, // O read as 0
		{"PS-1K2QD-M9X4T-0B8ZN-W3RJF", "PS-1K2QD-M9X4T-0B8ZN-W3RJF", true},
		{"PS-IK2QD-M9X4T-0B8ZN-W3RJL", "PS-1K2QD-M9X4T-0B8ZN-W3RJ1", true}, // I and L read as 1
		{"PS-7K2QD-M9X4T-0B8ZN-W3RJU", "", false},                          // U is not in the alphabet
		{"PS-7K2QD-M9X4T-0B8ZN", "", false},
		{"XX-7K2QD-M9X4T-0B8ZN-W3RJF", "", false},
		{"", "", false},
	} {
		got, err := normalSerial(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalSerial(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNewSerialIsPrintable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		s, err := newSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := normalSerial(s); err != nil || got != s {
			t.Fatalf("newSerial gave %q, which reads back as %q, %v", s, got, err)
		}
		if seen[s] {
			t.Fatalf("serial %q repeated", s)
		}
		seen[s] = true
	}
}

// TestCheckLedgerFindsStampProblems: `tamkeen ledger check` notices a
// stamp marked used without its use posted.
func TestCheckLedgerFindsStampProblems(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	st := h.buyStamps(1)[0]
	h.checkLedger()
	if _, err := h.db.ExecContext(context.Background(), `UPDATE stamps SET used_at = $1, used_by = 'nobody' WHERE serial = $2`,
		h.clk.Now(), st.Serial); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckLedger(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	want := "stamp " + st.Serial + " wants one stamp_use posting of 500; it has 0"
	if len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], want) {
		t.Errorf("problems = %q; want one starting %q", rep.Problems, want)
	}
}
