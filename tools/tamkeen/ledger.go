package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/services/payment"
)

// ledgerConfig is the command line of `tamkeen ledger check`: the payment
// database, of production (--db-dsn) or of a `tamkeen dev` data dir
// (--data-dir), as every other operator command takes it.
type ledgerConfig struct {
	serviceDB
}

// errLedgerUnsound is returned when the check finds broken invariants.
var errLedgerUnsound = errors.New("the ledger is not sound")

// runLedger runs `tamkeen ledger check`: it proves, from the payment
// database, that every ledger transaction balances and every balance equals
// the sum of its entries, prints the trial balance per currency and each
// problem found, and fails (exit 1) when there is any.
func runLedger(ctx context.Context, _ string, cfg ledgerConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	db, err := cfg.open(ctx, payment.Name)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := payment.CheckLedger(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d transactions, %d entries, %d account balances\n", rep.Transactions, rep.Entries, rep.Accounts)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CURRENCY\tDEBITS\tCREDITS\tBALANCE\t")
	for _, t := range rep.Totals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", t.Currency, t.Currency.Format(t.Debits), t.Currency.Format(t.Credits), t.Currency.Format(t.Net()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "PROBLEM:", p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%w: %d problems", errLedgerUnsound, len(rep.Problems))
	}
	fmt.Fprintln(stdout, "OK: every transaction balances and every balance equals the sum of its entries")
	return nil
}
