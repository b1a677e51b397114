package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/services/payment/money"
)

const usageUsage = `Usage:
  tamkeen usage report --month 2026-11 [--client ID] [--csv FILE] [--prices prices.json]
Prints the month's usage per client (calls per service and operation, SMS
segments, e-mails, signatures, time-stamps, payments and amounts) and writes it
as CSV (default usage-<month>.csv). With --prices, also prints one invoice per
ministry. The database is --data-dir DIR or --db-dsn URL [--db-engine].
`

// usageConfig is the command line of `tamkeen usage report`.
type usageConfig struct {
	DB     serviceDB
	Month  string `flag:"month" required:"true" usage:"the month, YYYY-MM (or a day, YYYY-MM-DD)"`
	Client string `flag:"client" usage:"only this client"`
	CSV    string `flag:"csv" usage:"CSV output file (default usage-<month>.csv; - for none)"`
	Prices string `flag:"prices" usage:"price list (JSON) that turns usage into invoices per ministry"`
}

// formatAmount renders minor units in the currency's scale.
func formatAmount(currency string, amount int64) string {
	if currency == "" {
		return ""
	}
	if c, err := money.ParseCurrency(currency); err == nil {
		return c.Format(amount)
	}
	return strconv.FormatInt(amount, 10) + " (minor units) " + currency
}

// runUsage prints the metered usage of a month and its invoices.
func runUsage(ctx context.Context, _ string, cfg usageConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	var prices *gateway.PriceList
	if cfg.Prices != "" {
		f, err := os.Open(cfg.Prices)
		if err != nil {
			return err
		}
		pl, err := gateway.ReadPriceList(f)
		f.Close()
		if err != nil {
			return err
		}
		prices = &pl
	}
	db, err := openGatewayDB(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	lines, err := gateway.Usage(ctx, db, cfg.Month, cfg.Client)
	if err != nil {
		return err
	}

	rows := make([][]string, 0, len(lines))
	for _, l := range lines {
		rows = append(rows, []string{l.ClientID, l.Item, strconv.FormatInt(l.Quantity, 10), formatAmount(l.Currency, l.Amount)})
	}
	if err := writeTable(stdout, []string{"CLIENT", "ITEM", "QUANTITY", "AMOUNT"}, rows); err != nil {
		return err
	}
	if len(lines) == 0 {
		fmt.Fprintf(stdout, "(no usage in %s)\n", cfg.Month)
	}

	path := cfg.CSV
	if path == "" {
		path = "usage-" + cfg.Month + ".csv"
	}
	if path != "-" {
		if err := writeUsageCSV(path, cfg.Month, lines); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}

	if prices != nil {
		for _, inv := range prices.Invoices(lines) {
			fmt.Fprintf(stdout, "\nINVOICE %s — %s\n", inv.Ministry, cfg.Month)
			rows := make([][]string, 0, len(inv.Lines)+1)
			for _, l := range inv.Lines {
				rows = append(rows, []string{l.ClientID, l.Item, strconv.FormatInt(l.Quantity, 10), formatAmount(inv.Currency, l.UnitPrice), formatAmount(inv.Currency, l.Total)})
			}
			rows = append(rows, []string{"", "", "", "TOTAL", formatAmount(inv.Currency, inv.Total)})
			if err := writeTable(stdout, []string{"CLIENT", "ITEM", "QUANTITY", "UNIT PRICE", "TOTAL"}, rows); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeUsageCSV writes the usage lines (amounts in minor units).
func writeUsageCSV(path, month string, lines []gateway.UsageLine) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"period", "client_id", "item", "quantity", "currency", "amount_minor_units"})
	for _, l := range lines {
		_ = w.Write([]string{month, l.ClientID, l.Item, strconv.FormatInt(l.Quantity, 10), l.Currency, strconv.FormatInt(l.Amount, 10)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
