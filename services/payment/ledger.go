package payment

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tamkeen/tamkeen/services/payment/money"
)

// Ledger accounts. A department's revenue account is its split account
// ("dept:land-registry"); the others are named after it or the provider.
// Balances are debits minus credits, so a revenue account's balance is
// negative (a credit balance) and the clearing account's positive.
const (
	// clearingPrefix + provider: money the acquirer holds for us.
	clearingPrefix = "clearing:"
	// bankPrefix + provider: money the acquirer has paid into the bank.
	bankPrefix = "bank:"
	// refundsPrefix + department account: contra-revenue of refunds.
	refundsPrefix = "refunds:"
	// disputesPrefix + department account: contra-revenue of lost disputes.
	disputesPrefix = "disputes:"
)

// ClearingAccount is the provider's clearing account.
func ClearingAccount(provider string) string { return clearingPrefix + provider }

// BankAccount is the account the provider settles into.
func BankAccount(provider string) string { return bankPrefix + provider }

// RefundsAccount is the department's refunds (contra-revenue) account.
func RefundsAccount(dept string) string { return refundsPrefix + dept }

// DisputesAccount is the department's lost-disputes account.
func DisputesAccount(dept string) string { return disputesPrefix + dept }

// Kinds of ledger transaction; (kind, ref) is unique in the ledger, which
// is what makes every posting happen at most once.
const (
	KindCapture     = "capture"      // ref: payment id
	KindRefund      = "refund"       // ref: refund id
	KindDisputeLost = "dispute_lost" // ref: payment id
	KindSettlement  = "settlement"   // ref: provider/charge reference
)

// Entry is one line of a ledger transaction: a debit or a credit (exactly
// one of them positive) to an account in a currency.
type Entry struct {
	Account  string
	Currency Currency
	Debit    int64
	Credit   int64
}

// Posting is a balanced ledger transaction before it is stored.
type Posting struct {
	Kind      string
	Ref       string
	PaymentID string
	// Ministry is the ministry of the payment the posting is about: the
	// whole transaction is in that ministry's view of the ledger.
	Ministry string
	Currency Currency
	Entries  []Entry
}

// Of returns p as a posting of ministry.
func (p Posting) Of(ministry string) Posting {
	p.Ministry = ministry
	return p
}

// ErrUnbalanced is wrapped by Check's errors.
var ErrUnbalanced = errors.New("ledger: unbalanced transaction")

// Check verifies the double-entry rules: at least two entries, each a
// positive debit or a positive credit (not both) in the posting's currency,
// and debits equal to credits.
func (p Posting) Check() error {
	if p.Kind == "" || p.Ref == "" {
		return fmt.Errorf("%w: missing kind or ref", ErrUnbalanced)
	}
	if len(p.Entries) < 2 {
		return fmt.Errorf("%w: %s %s has %d entries", ErrUnbalanced, p.Kind, p.Ref, len(p.Entries))
	}
	var dr, cr int64
	for i, e := range p.Entries {
		if e.Currency != p.Currency {
			return fmt.Errorf("%w: %s %s entry %d is in %s, not %s", ErrUnbalanced, p.Kind, p.Ref, i, e.Currency, p.Currency)
		}
		if e.Account == "" || (e.Debit > 0) == (e.Credit > 0) || e.Debit < 0 || e.Credit < 0 {
			return fmt.Errorf("%w: %s %s entry %d must be one positive debit or credit", ErrUnbalanced, p.Kind, p.Ref, i)
		}
		dr += e.Debit
		cr += e.Credit
	}
	if dr != cr {
		return fmt.Errorf("%w: %s %s debits %d != credits %d", ErrUnbalanced, p.Kind, p.Ref, dr, cr)
	}
	return nil
}

// CapturePosting is a succeeded payment: the acquirer's clearing account is
// debited with the amount and each department's revenue credited with its
// split.
func CapturePosting(paymentID, provider string, cur Currency, amount int64, splits []Split) Posting {
	p := Posting{Kind: KindCapture, Ref: paymentID, PaymentID: paymentID, Currency: cur}
	p.Entries = append(p.Entries, Entry{Account: ClearingAccount(provider), Currency: cur, Debit: amount})
	for _, s := range splits {
		p.Entries = append(p.Entries, Entry{Account: s.Account, Currency: cur, Credit: s.Amount})
	}
	return p
}

// ReversalPosting reverses shares of departments' revenue (a refund or a
// lost dispute): each department's refunds (or disputes) account is
// debited with its share and the clearing account credited with the total.
// Departments with a zero share get no entry.
func ReversalPosting(kind, ref, paymentID, provider string, cur Currency, splits []Split, shares []int64) Posting {
	p := Posting{Kind: kind, Ref: ref, PaymentID: paymentID, Currency: cur}
	contra := RefundsAccount
	if kind == KindDisputeLost {
		contra = DisputesAccount
	}
	var total int64
	for i, s := range splits {
		if shares[i] == 0 {
			continue
		}
		p.Entries = append(p.Entries, Entry{Account: contra(s.Account), Currency: cur, Debit: shares[i]})
		total += shares[i]
	}
	p.Entries = append(p.Entries, Entry{Account: ClearingAccount(provider), Currency: cur, Credit: total})
	return p
}

// SettlementPosting moves settled money from the provider's clearing
// account to the bank.
func SettlementPosting(ref, provider string, cur Currency, amount int64) Posting {
	p := Posting{Kind: KindSettlement, Ref: ref, Currency: cur}
	if amount >= 0 {
		p.Entries = []Entry{
			{Account: BankAccount(provider), Currency: cur, Debit: amount},
			{Account: ClearingAccount(provider), Currency: cur, Credit: amount},
		}
	} else { // a net refund: the bank pays the acquirer back
		p.Entries = []Entry{
			{Account: ClearingAccount(provider), Currency: cur, Debit: -amount},
			{Account: BankAccount(provider), Currency: cur, Credit: -amount},
		}
	}
	return p
}

// RefundShares divides a refund among departments in proportion to what
// each still holds of the payment (split minus refunded so far), so that a
// full refund of the rest returns exactly every department's remainder and
// no department is ever refunded more than it was credited.
func RefundShares(amount int64, remaining []int64) []int64 { return money.Allocate(amount, remaining) }

// Balance is an account's totals in one currency.
type Balance struct {
	Account  string
	Currency Currency
	Debits   int64
	Credits  int64
}

// Net is debits minus credits.
func (b Balance) Net() int64 { return b.Debits - b.Credits }

// CurrencyTotals is a currency's trial balance.
type CurrencyTotals struct {
	Currency Currency
	Debits   int64
	Credits  int64
	Accounts []Balance
}

// Net is debits minus credits; zero in a sound ledger.
func (t CurrencyTotals) Net() int64 { return t.Debits - t.Credits }

// TrialBalance groups balances per currency, sorted by currency and account.
func TrialBalance(bals []Balance) []CurrencyTotals {
	by := map[Currency]*CurrencyTotals{}
	for _, b := range bals {
		t := by[b.Currency]
		if t == nil {
			t = &CurrencyTotals{Currency: b.Currency}
			by[b.Currency] = t
		}
		t.Debits += b.Debits
		t.Credits += b.Credits
		t.Accounts = append(t.Accounts, b)
	}
	out := make([]CurrencyTotals, 0, len(by))
	for _, t := range by {
		sort.Slice(t.Accounts, func(i, j int) bool { return t.Accounts[i].Account < t.Accounts[j].Account })
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// sortedEntries returns the entries in account order, the order balance
// rows are locked in, so that concurrent postings cannot deadlock.
func sortedEntries(es []Entry) []Entry {
	out := append([]Entry(nil), es...)
	sort.SliceStable(out, func(i, j int) bool { return strings.Compare(out[i].Account, out[j].Account) < 0 })
	return out
}
