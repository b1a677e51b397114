package payment

import (
	"errors"
	"testing"
)

func TestPostingCheck(t *testing.T) {
	t.Parallel()
	splits := []Split{{"dept:land-registry", 50000}, {"dept:municipality", 30000}, {"dept:treasury", 20000}}
	for _, tc := range []struct {
		name string
		p    Posting
		ok   bool
	}{
		{"capture", CapturePosting("pay_1", "sandbox", JOD, 100000, splits), true},
		{"refund", ReversalPosting(KindRefund, "ref_1", "pay_1", "sandbox", JOD, splits, []int64{5, 0, 2}), true},
		{"lost dispute", ReversalPosting(KindDisputeLost, "pay_1", "pay_1", "sandbox", JOD, splits, []int64{50000, 30000, 20000}), true},
		{"settlement", SettlementPosting("ch_1", "sandbox", JOD, 100000), true},
		{"negative settlement", SettlementPosting("ch_1", "sandbox", JOD, -5), true},
		{"capture with splits short", CapturePosting("pay_1", "sandbox", JOD, 100001, splits), false},
		{"one entry", Posting{Kind: KindCapture, Ref: "x", Currency: ILS, Entries: []Entry{{Account: "a", Currency: ILS, Debit: 1}}}, false},
		{"mixed currency", Posting{Kind: KindCapture, Ref: "x", Currency: ILS, Entries: []Entry{
			{Account: "a", Currency: ILS, Debit: 1}, {Account: "b", Currency: USD, Credit: 1}}}, false},
		{"debit and credit on one line", Posting{Kind: KindCapture, Ref: "x", Currency: ILS, Entries: []Entry{
			{Account: "a", Currency: ILS, Debit: 1, Credit: 1}, {Account: "b", Currency: ILS, Credit: 0, Debit: 0}}}, false},
		{"negative debit", Posting{Kind: KindCapture, Ref: "x", Currency: ILS, Entries: []Entry{
			{Account: "a", Currency: ILS, Debit: -1}, {Account: "b", Currency: ILS, Credit: -1}}}, false},
		{"no ref", Posting{Kind: KindCapture, Currency: ILS, Entries: []Entry{
			{Account: "a", Currency: ILS, Debit: 1}, {Account: "b", Currency: ILS, Credit: 1}}}, false},
	} {
		err := tc.p.Check()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Check() = %v; want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUnbalanced) {
			t.Errorf("%s: %v does not wrap ErrUnbalanced", tc.name, err)
		}
	}
}

// TestCaptureCreditsEachSplit is the 100.000 JOD fee split three
// ways: three credits that add up exactly to the clearing debit.
func TestCaptureCreditsEachSplit(t *testing.T) {
	t.Parallel()
	splits := []Split{{"dept:land-registry", 33334}, {"dept:municipality", 33333}, {"dept:treasury", 33333}}
	p := CapturePosting("pay_1", "sandbox", JOD, 100000, splits)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	credits := map[string]int64{}
	var sum int64
	for _, e := range p.Entries {
		if e.Credit > 0 {
			credits[e.Account] = e.Credit
			sum += e.Credit
		}
	}
	if len(credits) != 3 || sum != 100000 || credits["dept:land-registry"] != 33334 {
		t.Errorf("credits = %v (sum %d); want three adding up to 100000", credits, sum)
	}
}

func TestTrialBalance(t *testing.T) {
	t.Parallel()
	tb := TrialBalance([]Balance{
		{Account: "dept:b", Currency: JOD, Credits: 7},
		{Account: "clearing:sandbox", Currency: JOD, Debits: 7},
		{Account: "dept:a", Currency: ILS, Credits: 3},
		{Account: "clearing:sandbox", Currency: ILS, Debits: 3},
	})
	if len(tb) != 2 || tb[0].Currency != ILS || tb[1].Currency != JOD {
		t.Fatalf("TrialBalance currencies = %+v; want ILS then JOD", tb)
	}
	for _, c := range tb {
		if c.Net() != 0 {
			t.Errorf("%s net %d; want 0", c.Currency, c.Net())
		}
	}
	if tb[1].Accounts[0].Account != "clearing:sandbox" || tb[1].Accounts[1].Net() != -7 {
		t.Errorf("JOD accounts = %+v; want sorted with dept:b at -7", tb[1].Accounts)
	}
}

// TestRefundSharesNeverExceedRemainder refunds a payment in random pieces
// and checks that each department gets back exactly what it was credited.
func TestRefundSharesNeverExceedRemainder(t *testing.T) {
	t.Parallel()
	splits := []int64{33334, 33333, 33333}
	remaining := append([]int64(nil), splits...)
	left := int64(100000)
	for _, piece := range []int64{1, 7, 9999, 33333, 2, 50000} {
		shares := RefundShares(piece, remaining)
		var sum int64
		for i, s := range shares {
			if s > remaining[i] {
				t.Fatalf("share %d = %d > remaining %d", i, s, remaining[i])
			}
			remaining[i] -= s
			sum += s
		}
		if sum != piece {
			t.Fatalf("shares %v sum to %d; want %d", shares, sum, piece)
		}
		left -= piece
	}
	shares := RefundShares(left, remaining)
	for i, s := range shares {
		if s != remaining[i] {
			t.Errorf("final share %d = %d; want the remainder %d", i, s, remaining[i])
		}
	}
}
