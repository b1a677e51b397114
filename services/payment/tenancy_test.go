package payment

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// clientOf mints a token of client id registered with ministry (the
// "ministry" claim auth adds; "" leaves it out).
func (tk *tokens) clientOf(t testing.TB, id, ministry string, scopes ...string) string {
	c := jwt.MapClaims{"sub": id, "client_id": id, "scope": strings.Join(scopes, " ")}
	if ministry != "" {
		c["ministry"] = ministry
	}
	return tk.sign(t, c)
}

// TestLedgerTenancy is issue 12's "one client's ledger view lacks another
// ministry's departments": moh and mof take payments (in JOD and ILS) to
// their own departments; each ministry's finance client sees only its
// departments, balanced per currency; a client without a ministry sees
// nothing; ledger:admin sees the whole ledger. Reconciliation shows a
// ministry only its own payments' lines.
func TestLedgerTenancy(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		tk := newTokens(t, clk)
		h := newHarness(t, db, func(_ *Config, d *Deps) { d.Verifier = tk.verifier(t); d.Now = clk.Now })
		h.clk = clk
		c := grpcClient(t, h)
		mohApp := withToken(tk.clientOf(t, "moh-portal", "moh", scope.PaymentsWrite, scope.PaymentsRead))
		mofApp := withToken(tk.clientOf(t, "mof-portal", "mof", scope.PaymentsWrite, scope.PaymentsRead))
		pay := func(ctx context.Context, ref, cur string, amount int64, splits ...*paymentv1.Split) *paymentv1.Payment {
			t.Helper()
			p, err := c.CreatePayment(ctx, &paymentv1.CreatePaymentRequest{Amount: amount, Currency: cur, Reference: ref,
				Description: "fee " + ref, ReturnUrl: "https://m.example/r", Splits: splits})
			if err != nil {
				t.Fatalf("CreatePayment %s: %v", ref, err)
			}
			got := h.pay2(p.GetId(), p.GetNextUrl())
			return got
		}
		mohJOD := pay(mohApp, "MOH-1", "JOD", 100000,
			&paymentv1.Split{Account: "dept:moh-clinics", Amount: 60000}, &paymentv1.Split{Account: "dept:moh-pharmacy", Amount: 40000})
		pay(mohApp, "MOH-2", "ILS", 5000, &paymentv1.Split{Account: "dept:moh-clinics", Amount: 5000})
		mofJOD := pay(mofApp, "MOF-1", "JOD", 70000, &paymentv1.Split{Account: "dept:customs", Amount: 70000})
		if _, err := c.CreateRefund(mohApp, &paymentv1.CreateRefundRequest{PaymentId: mohJOD.GetId(), Amount: 10000, Reason: "duplicate"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRefund(mofApp, &paymentv1.CreateRefundRequest{PaymentId: mofJOD.GetId(), Amount: 7000, Reason: "duplicate"}); err != nil {
			t.Fatal(err)
		}

		// Payments belong to their client: mof cannot refund, cancel or
		// read moh's (NotFound, so ids leak nothing).
		if _, err := c.CreateRefund(mofApp, &paymentv1.CreateRefundRequest{PaymentId: mohJOD.GetId(), Amount: 1000, Reason: "x"}); status.Code(err) != codes.NotFound {
			t.Errorf("mof refunds moh's payment = %v; want NotFound", err)
		}
		if _, err := c.CancelPayment(mofApp, &paymentv1.CancelPaymentRequest{Id: mohJOD.GetId()}); status.Code(err) != codes.NotFound {
			t.Errorf("mof cancels moh's payment = %v; want NotFound", err)
		}
		if l, err := c.ListPayments(mofApp, &paymentv1.ListPaymentsRequest{}); err != nil || len(l.GetPayments()) != 1 {
			t.Errorf("mof lists %d payments, %v; want its own one", len(l.GetPayments()), err)
		}

		mohFinance := withToken(tk.clientOf(t, "moh-finance", "moh", scope.LedgerRead))
		mofFinance := withToken(tk.clientOf(t, "mof-finance", "mof", scope.LedgerRead))
		admin := withToken(tk.clientOf(t, "platform-finance", "", scope.LedgerAdmin))

		// accounts names the accounts of a trial balance, checking that
		// each currency balances.
		accounts := func(who string, ctx context.Context) map[string]bool {
			t.Helper()
			tb, err := c.GetTrialBalance(ctx, &paymentv1.GetTrialBalanceRequest{})
			if err != nil {
				t.Fatalf("%s trial balance: %v", who, err)
			}
			out := map[string]bool{}
			for _, cb := range tb.GetCurrencies() {
				var dr, cr int64
				for _, a := range cb.GetAccounts() {
					out[a.GetAccount()] = true
					dr += a.GetDebits()
					cr += a.GetCredits()
				}
				if cb.GetBalance() != 0 || cb.GetDebits() != cb.GetCredits() || dr != cb.GetDebits() || cr != cb.GetCredits() {
					t.Errorf("%s trial balance in %s: debits %d credits %d balance %d (accounts %d/%d); want balanced",
						who, cb.GetCurrency(), cb.GetDebits(), cb.GetCredits(), cb.GetBalance(), dr, cr)
				}
			}
			return out
		}
		moh := accounts("moh", mohFinance)
		for _, a := range []string{"dept:moh-clinics", "dept:moh-pharmacy", "refunds:dept:moh-clinics", "clearing:sandbox"} {
			if !moh[a] {
				t.Errorf("moh's trial balance lacks its own %s: %v", a, moh)
			}
		}
		if moh["dept:customs"] || moh["refunds:dept:customs"] {
			t.Errorf("moh's trial balance shows mof's departments: %v", moh)
		}
		mof := accounts("mof", mofFinance)
		if !mof["dept:customs"] || mof["dept:moh-clinics"] || mof["dept:moh-pharmacy"] || mof["refunds:dept:moh-clinics"] {
			t.Errorf("mof's trial balance = %v; want customs and none of moh's departments", mof)
		}
		all := accounts("admin", admin)
		if !all["dept:customs"] || !all["dept:moh-clinics"] {
			t.Errorf("ledger:admin's trial balance = %v; want every ministry's departments", all)
		}

		// The clearing account's part is moh's own: 100000 - 10000 in JOD.
		la, err := c.ListLedgerAccounts(mohFinance, &paymentv1.ListLedgerAccountsRequest{Currency: "JOD"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, a := range la.GetAccounts() {
			got[a.GetAccount()] = a.GetBalance()
		}
		want := map[string]int64{"clearing:sandbox": 90000, "dept:moh-clinics": -60000, "dept:moh-pharmacy": -40000,
			"refunds:dept:moh-clinics": 6000, "refunds:dept:moh-pharmacy": 4000}
		if len(got) != len(want) {
			t.Errorf("moh's JOD accounts = %v; want %v", got, want)
		}
		for a, w := range want {
			if got[a] != w {
				t.Errorf("moh's JOD %s = %d; want %d", a, got[a], w)
			}
		}
		la, err = c.ListLedgerAccounts(admin, &paymentv1.ListLedgerAccountsRequest{Currency: "JOD"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range la.GetAccounts() {
			if a.GetAccount() == "clearing:sandbox" && a.GetBalance() != 90000+63000 {
				t.Errorf("platform-wide JOD clearing = %d; want %d", a.GetBalance(), 90000+63000)
			}
		}

		// A client token without a ministry, or with only payments scopes,
		// sees no ledger at all.
		for name, ctx := range map[string]context.Context{
			"no ministry":    withToken(tk.clientOf(t, "finance", "", scope.LedgerRead)),
			"payments scope": mohApp,
		} {
			if _, err := c.GetTrialBalance(ctx, &paymentv1.GetTrialBalanceRequest{}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("trial balance with %s = %v; want PermissionDenied", name, err)
			}
			if _, err := c.ListLedgerAccounts(ctx, &paymentv1.ListLedgerAccountsRequest{}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("ledger accounts with %s = %v; want PermissionDenied", name, err)
			}
			if _, err := c.Reconcile(ctx, &paymentv1.ReconcileRequest{Provider: "sandbox", Date: clk.Now().Format(time.DateOnly)}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("reconcile with %s = %v; want PermissionDenied", name, err)
			}
		}

		// Reconciliation: mof sees the lines of its own payments only (a
		// charge and a refund), even of a report with an unknown charge.
		day := clk.Now()
		lines, err := h.sb.SettlementReport(context.Background(), day)
		if err != nil || len(lines) != 5 {
			t.Fatalf("report: %d lines, %v; want 5", len(lines), err)
		}
		lines = append(lines, provider.SettlementLine{Date: day, Type: "charge", ChargeRef: "ch_unknown", Ref: "ch_unknown", Amount: 500, Currency: "JOD"})
		rec, err := h.svc.ReconcileLines(context.Background(), "mof-finance", LedgerView{Ministry: "mof"}, "sandbox", day, lines)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Matched != 2 || len(rec.MissingInLedger)+len(rec.MissingInReport)+len(rec.Mismatched) != 0 || rec.Settled != 2 {
			t.Errorf("mof's reconciliation = %+v; want its 2 lines matched and settled, nothing of moh's or unknown", rec)
		}
		viaAPI, err := c.Reconcile(mohFinance, &paymentv1.ReconcileRequest{Provider: "sandbox", Date: day.Format(time.DateOnly)})
		if err != nil || viaAPI.GetMatched() != 3 || len(viaAPI.GetMissingInLedger())+len(viaAPI.GetMissingInReport())+len(viaAPI.GetMismatched()) != 0 {
			t.Errorf("moh's reconciliation = %v, %v; want its 3 lines matched", viaAPI, err)
		}
		for _, it := range append(viaAPI.GetMissingInLedger(), viaAPI.GetMismatched()...) {
			if it.GetPaymentId() == mofJOD.GetId() {
				t.Errorf("moh's reconciliation names mof's payment: %v", it)
			}
		}
		full, err := h.svc.ReconcileLines(context.Background(), "platform-finance", PlatformLedger, "sandbox", day, lines)
		if err != nil || full.Matched != 5 || len(full.MissingInLedger) != 1 || full.Settled != 0 {
			t.Errorf("platform reconciliation = %+v, %v; want 5 matched (settled before), the unknown charge missing", full, err)
		}
		// Settlement postings belong to the ministry of their payment:
		// each view is still balanced and moh's bank holds moh's money.
		accounts("moh after settlement", mohFinance)
		accounts("mof after settlement", mofFinance)
		bals, err := h.svc.Balances(context.Background(), LedgerView{Ministry: "moh"}, "JOD")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bals {
			if b.Account == "bank:sandbox" && b.Net() != 90000 {
				t.Errorf("moh's JOD bank = %d; want 90000", b.Net())
			}
		}
		h.checkLedger()
	})
}

// pay2 pays the payment id at nextURL with the succeeding test card.
func (h *harness) pay2(id, nextURL string) *paymentv1.Payment {
	h.t.Helper()
	if resp := h.checkout(Payment{NextURL: nextURL}, "4242424242424242"); resp.StatusCode != 303 {
		h.t.Fatalf("checkout of %s answered %d; want 303", id, resp.StatusCode)
	}
	return &paymentv1.Payment{Id: id}
}
