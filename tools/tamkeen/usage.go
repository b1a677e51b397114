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
  tamkeen usage report --month 2026-11 [--client ID] [--csv FILE] [--prices prices.json] [-o json]
Prints the month's usage per client (calls per service and operation, SMS
segments, e-mails, signatures, time-stamps, payments and amounts) and writes it
as CSV (default usage-<month>.csv). With --prices, also prints one invoice per
ministry. With -o json it prints one JSON document (usage lines and invoices,
amounts in minor units and formatted) and writes CSV only where --csv names a
file. The database is --data-dir DIR or --db-dsn URL [--db-engine].
`

// usageConfig is the command line of `tamkeen usage report`.
type usageConfig struct {
	gatewayFlags
	Month  string `flag:"month" required:"true" usage:"the month, YYYY-MM (or a day, YYYY-MM-DD)"`
	Client string `flag:"client" usage:"only this client"`
	CSV    string `flag:"csv" usage:"CSV output file (default usage-<month>.csv; - for none)"`
	Prices string `flag:"prices" usage:"price list (JSON) that turns usage into invoices per ministry"`
}

// usageJSON is what `tamkeen usage report -o json` prints.
type usageJSON struct {
	Month    string          `json:"month"`
	Client   string          `json:"client,omitempty"`
	Lines    []usageLineJSON `json:"lines"`
	Invoices []invoiceJSON   `json:"invoices,omitempty"`
	// CSV is the file the report was also written to.
	CSV string `json:"csv,omitempty"`
}

type usageLineJSON struct {
	ClientID string `json:"client_id"`
	Item     string `json:"item"`
	Quantity int64  `json:"quantity"`
	Currency string `json:"currency,omitempty"`
	// AmountMinor is in the currency's minor units; Amount is formatted.
	AmountMinor int64  `json:"amount_minor_units,omitempty"`
	Amount      string `json:"amount,omitempty"`
}

type invoiceJSON struct {
	Ministry   string            `json:"ministry"`
	Currency   string            `json:"currency"`
	Lines      []invoiceLineJSON `json:"lines"`
	TotalMinor int64             `json:"total_minor_units"`
	Total      string            `json:"total"`
}

type invoiceLineJSON struct {
	ClientID       string `json:"client_id"`
	Item           string `json:"item"`
	Quantity       int64  `json:"quantity"`
	UnitPriceMinor int64  `json:"unit_price_minor_units"`
	TotalMinor     int64  `json:"total_minor_units"`
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

	if cfg.asJSON() {
		return usageAsJSON(stdout, cfg, lines, prices)
	}
	usageLines := listing[gateway.UsageLine]{
		header: []string{"CLIENT", "ITEM", "QUANTITY", "AMOUNT"},
		row: func(l gateway.UsageLine) []string {
			return []string{l.ClientID, l.Item, strconv.FormatInt(l.Quantity, 10), formatAmount(l.Currency, l.Amount)}
		},
		empty: fmt.Sprintf("(no usage in %s)", cfg.Month),
	}
	if err := usageLines.table(stdout, lines); err != nil {
		return err
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

// usageAsJSON prints the report as one JSON document, writing the CSV
// only where --csv names a file.
func usageAsJSON(stdout io.Writer, cfg usageConfig, lines []gateway.UsageLine, prices *gateway.PriceList) error {
	out := usageJSON{Month: cfg.Month, Client: cfg.Client, Lines: make([]usageLineJSON, 0, len(lines))}
	for _, l := range lines {
		out.Lines = append(out.Lines, usageLineJSON{ClientID: l.ClientID, Item: l.Item, Quantity: l.Quantity,
			Currency: l.Currency, AmountMinor: l.Amount, Amount: formatAmount(l.Currency, l.Amount)})
	}
	if prices != nil {
		for _, inv := range prices.Invoices(lines) {
			ij := invoiceJSON{Ministry: inv.Ministry, Currency: inv.Currency, Lines: make([]invoiceLineJSON, 0, len(inv.Lines)),
				TotalMinor: inv.Total, Total: formatAmount(inv.Currency, inv.Total)}
			for _, l := range inv.Lines {
				ij.Lines = append(ij.Lines, invoiceLineJSON{ClientID: l.ClientID, Item: l.Item, Quantity: l.Quantity,
					UnitPriceMinor: l.UnitPrice, TotalMinor: l.Total})
			}
			out.Invoices = append(out.Invoices, ij)
		}
	}
	if cfg.CSV != "" && cfg.CSV != "-" {
		if err := writeUsageCSV(cfg.CSV, cfg.Month, lines); err != nil {
			return err
		}
		out.CSV = cfg.CSV
	}
	return writeJSON(stdout, out)
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
