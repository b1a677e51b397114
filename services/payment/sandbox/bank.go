package sandbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// BankName is the sandbox bank's name (Config.DebitBank, and its ledger
// clearing account "clearing:sandbox-bank").
const BankName = "sandbox-bank"

// The sandbox bank's outcomes are decided by the last four digits of the
// debtor's IBAN, like the sandbox acquirer's test cards:
//
//	…0051  fails AM04 (insufficient funds), e.g. PS58PALS000000000000012340051
//	…0052  fails AC04 (account closed),     e.g. PS31PALS000000000000012340052
//	…0053  fails MD01 (no mandate),         e.g. PS04PALS000000000000012340053
//	other  settles,                         e.g. PS50PALS000000000000012340001
var bankOutcomes = map[string]string{
	"0051": provider.ReasonInsufficientFunds,
	"0052": provider.ReasonClosedAccount,
	"0053": provider.ReasonNoMandate,
}

// Bank is the sandbox bank: it takes pain.008 messages and answers each
// with a camt.054 notification at once, booked on the collections' due
// dates. Its messages are kept in the payment database, so a restart
// loses nothing.
type Bank struct {
	db  *store.DB
	now func() time.Time
}

// NewBank returns the sandbox bank on db.
func NewBank(db *store.DB, now func() time.Time) *Bank { return &Bank{db: db, now: now} }

// Name is BankName.
func (b *Bank) Name() string { return BankName }

// Submit takes pain.008 message msgID and writes its result; a message
// taken before is not taken again.
func (b *Bank) Submit(ctx context.Context, msgID string, pain008 []byte) error {
	id, debits, err := provider.ParsePain008(pain008)
	if err != nil {
		return err
	}
	if id != msgID {
		return fmt.Errorf("%w: pain.008 message id is not %s", provider.ErrMalformed, msgID)
	}
	results := make([]provider.DebitResult, 0, len(debits))
	for _, d := range debits {
		r := provider.DebitResult{EndToEndID: d.EndToEndID, Amount: d.Amount, Currency: d.Currency, Settled: true, Booked: d.DueDate}
		if len(d.DebtorIBAN) >= 4 {
			if code, ok := bankOutcomes[d.DebtorIBAN[len(d.DebtorIBAN)-4:]]; ok {
				r.Settled, r.ReasonCode = false, code
			}
		}
		results = append(results, r)
	}
	now := store.Stamp(b.now())
	camt, err := provider.WriteCamt054("camt-"+strings.TrimPrefix(msgID, "dd_"), msgID, now, results)
	if err != nil {
		return err
	}
	return insertBankMessage(ctx, b.db, msgID, string(pain008), string(camt), now)
}

// Result returns the camt.054 notification of message msgID.
func (b *Bank) Result(ctx context.Context, msgID string) ([]byte, error) {
	camt, ok, err := bankResult(ctx, b.db, msgID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", provider.ErrResultNotReady, msgID)
	}
	return []byte(camt), nil
}
