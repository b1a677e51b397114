package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment"
)

// ledgerConfig is the command line of `tamkeen ledger check`.
type ledgerConfig struct {
	DBEngine string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite"`
	DBDSN    string `flag:"db-dsn" secret:"true" required:"true" usage:"the payment service's PostgreSQL URL or SQLite file"`
}

// Validate reports what is wrong with the settings.
func (c ledgerConfig) Validate() error {
	var p config.Problems
	checkEngine(&p, c.DBEngine)
	return p.Err()
}

// errLedgerUnsound is returned when the check finds broken invariants.
var errLedgerUnsound = errors.New("the ledger is not sound")

// runLedger runs `tamkeen ledger check`: it proves, from the payment
// database, that every ledger transaction balances and every balance equals
// the sum of its entries, prints the trial balance per currency and each
// problem found, and fails (exit 1) when there is any.
func runLedger(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		var p config.Problems
		p.Add("", "usage: tamkeen ledger check --db-engine=postgres|sqlite --db-dsn=…")
		return p.Err()
	}
	var cfg ledgerConfig
	flags := flag.NewFlagSet("tamkeen ledger check", flag.ContinueOnError)
	flags.SetOutput(stderr)
	if err := config.Load(&cfg, flags, args[1:], lookupEnv); err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{Engine: store.Engine(cfg.DBEngine), DSN: cfg.DBDSN})
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
