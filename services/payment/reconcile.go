package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// ReconItem is one unmatched or mismatched line.
type ReconItem struct {
	// Kind is charge, refund or chargeback.
	Kind         string `json:"kind"`
	PaymentID    string `json:"payment_id"`
	ProviderRef  string `json:"provider_reference"`
	LedgerAmount int64  `json:"ledger_amount"`
	ReportAmount int64  `json:"report_amount"`
	Currency     string `json:"currency"`
}

// Reconciliation is the result of matching one settlement report.
type Reconciliation struct {
	ID              string      `json:"id"`
	Provider        string      `json:"provider"`
	Date            string      `json:"date"`
	Matched         int         `json:"matched"`
	MissingInReport []ReconItem `json:"missing_in_report"`
	MissingInLedger []ReconItem `json:"missing_in_ledger"`
	Mismatched      []ReconItem `json:"mismatched"`
	// Settled counts the settlement postings this run made (a repeated
	// run of the same day makes none).
	Settled int `json:"settled"`
}

// Reconcile fetches providerName's settlement report of date (YYYY-MM-DD,
// UTC) and matches it against the ledger; see ReconcileLines.
func (s *Service) Reconcile(ctx context.Context, clientID string, view LedgerView, providerName, date string) (Reconciliation, error) {
	if err := view.check(); err != nil {
		return Reconciliation{}, err
	}
	var fes []FieldError
	prov, ok := s.providers[providerName]
	if !ok {
		fes = append(fes, FieldError{Field: "provider", Reason: fmt.Sprintf("no payment provider %q is configured", providerName), Code: "provider.unknown"})
	}
	day, err := time.Parse(time.DateOnly, date)
	if err != nil {
		fes = append(fes, FieldError{Field: "date", Reason: "must be YYYY-MM-DD", Code: "date.format"})
	}
	if err := fieldErrors(fes); err != nil {
		return Reconciliation{}, err
	}
	lines, err := prov.SettlementReport(ctx, day)
	if err != nil {
		s.Logger.WarnContext(ctx, "payment: settlement report", "provider", providerName, "err", err)
		return Reconciliation{}, ErrProviderUnavailable
	}
	return s.ReconcileLines(ctx, clientID, view, providerName, day, lines)
}

// ledgerItem is what the ledger says one report line should be.
type ledgerItem struct {
	ReconItem
	key      string
	ministry string
}

// ReconcileLines matches a settlement report against the ledger's postings
// of that day for that provider: captures against charge lines, refunds
// against refund lines, lost disputes against chargebacks. Lines that
// match in amount and currency are matched, and each posts its settlement
// (clearing → bank) once; the others are reported as missing in the
// ledger, missing in the report, or mismatched.
//
// A ministry's view (ledger:read) sees and settles only the lines of its
// own payments: its ledger items, and report lines naming one of its
// payments; the lines of other ministries' payments and of unknown ones
// are for the platform-wide view (ledger:admin) only.
func (s *Service) ReconcileLines(ctx context.Context, clientID string, view LedgerView, providerName string, day time.Time, lines []provider.SettlementLine) (Reconciliation, error) {
	if err := view.check(); err != nil {
		return Reconciliation{}, err
	}
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	id, err := store.NewIDFrom(s.Rand, "rec_")
	if err != nil {
		return Reconciliation{}, err
	}
	rec := Reconciliation{ID: id, Provider: providerName, Date: from.Format(time.DateOnly)}
	now := s.clock()
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rec.Matched, rec.Settled = 0, 0
		rec.MissingInLedger, rec.MissingInReport, rec.Mismatched = nil, nil, nil
		ledger, err := ledgerItems(ctx, tx, providerName, from, to, view)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range lines {
			key := l.Type + ":" + l.Ref
			item := ReconItem{Kind: l.Type, PaymentID: l.PaymentID, ProviderRef: l.Ref, ReportAmount: l.Amount, Currency: l.Currency}
			li, ok := ledger[key]
			if !ok && !view.All {
				mine, err := paymentOf(ctx, tx, l.PaymentID, view.Ministry)
				if err != nil {
					return err
				}
				if !mine {
					continue // another ministry's line, or an unknown one
				}
			}
			if !ok || seen[key] {
				rec.MissingInLedger = append(rec.MissingInLedger, item)
				continue
			}
			seen[key] = true
			item.PaymentID, item.LedgerAmount = li.PaymentID, li.LedgerAmount
			if li.LedgerAmount != l.Amount || li.Currency != l.Currency {
				rec.Mismatched = append(rec.Mismatched, item)
				continue
			}
			rec.Matched++
			posted, err := s.post(ctx, tx, SettlementPosting(providerName+":"+key, providerName, Currency(l.Currency), l.Amount).Of(li.ministry), now)
			if err != nil {
				return err
			}
			if posted {
				rec.Settled++
			}
		}
		for key, li := range ledger {
			if !seen[key] {
				rec.MissingInReport = append(rec.MissingInReport, li.ReconItem)
			}
		}
		sortItems(rec.MissingInReport)
		report, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return insertReconciliation(ctx, tx, rec, clientID, report, now)
	})
	if err != nil {
		return Reconciliation{}, err
	}
	return rec, nil
}

func sortItems(items []ReconItem) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Kind != items[j].Kind {
			return items[i].Kind < items[j].Kind
		}
		return items[i].ProviderRef < items[j].ProviderRef
	})
}
