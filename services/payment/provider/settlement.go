package provider

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/services/payment/money"
)

// settlementHeader is the first line of a settlement report.
var settlementHeader = []string{"settlement_date", "type", "charge_id", "payment_id", "reference", "amount", "currency"}

// MaxSettlementLines bounds a report we parse.
const MaxSettlementLines = 1_000_000

// WriteSettlementCSV writes lines as a settlement report: a header, then
// one line each, amounts as decimals in the currency's scale ("100.000").
func WriteSettlementCSV(w io.Writer, lines []SettlementLine) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(settlementHeader); err != nil {
		return err
	}
	for _, l := range lines {
		cur, err := money.ParseCurrency(l.Currency)
		if err != nil {
			return err
		}
		if err := cw.Write([]string{l.Date.UTC().Format(time.DateOnly), l.Type, l.ChargeRef, l.PaymentID, l.Ref,
			money.FormatDecimal(l.Amount, cur.Scale()), l.Currency}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ParseSettlementCSV reads a settlement report. Every line must have the
// seven columns, a date, a known type, a charge id, an exact decimal amount
// in the scale of an accepted currency, positive for charges and negative
// otherwise. Errors name the line and wrap ErrMalformed.
func ParseSettlementCSV(r io.Reader) ([]SettlementLine, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(settlementHeader)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: settlement report header: %v", ErrMalformed, err)
	}
	for i, h := range settlementHeader {
		if strings.TrimPrefix(head[i], "\ufeff") != h {
			return nil, fmt.Errorf("%w: settlement report column %d is %q; want %q", ErrMalformed, i+1, head[i], h)
		}
	}
	var out []SettlementLine
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: settlement report: %v", ErrMalformed, err)
		}
		if len(out) >= MaxSettlementLines {
			return nil, fmt.Errorf("%w: settlement report longer than %d lines", ErrMalformed, MaxSettlementLines)
		}
		l, err := parseLine(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: settlement report line %d: %v", ErrMalformed, n, err)
		}
		out = append(out, l)
	}
}

func parseLine(rec []string) (SettlementLine, error) {
	var l SettlementLine
	d, err := time.Parse(time.DateOnly, rec[0])
	if err != nil {
		return l, fmt.Errorf("settlement_date %q is not YYYY-MM-DD", rec[0])
	}
	l.Date = d.UTC()
	l.Type = rec[1]
	switch l.Type {
	case LineCharge, LineRefund, LineChargeback:
	default:
		return l, fmt.Errorf("type %q is not charge, refund or chargeback", rec[1])
	}
	l.ChargeRef, l.PaymentID, l.Ref = rec[2], rec[3], rec[4]
	for _, f := range []struct{ name, v string }{{"charge_id", l.ChargeRef}, {"reference", l.Ref}} {
		if f.v == "" || len(f.v) > 128 || strings.ContainsAny(f.v, " \t\r\n") {
			return l, fmt.Errorf("%s %q is empty, too long or has spaces", f.name, f.v)
		}
	}
	if len(l.PaymentID) > 128 {
		return l, errors.New("payment_id is too long")
	}
	cur, err := money.ParseCurrency(rec[6])
	if err != nil {
		return l, err
	}
	l.Currency = string(cur)
	if l.Amount, err = money.ParseDecimal(rec[5], cur.Scale()); err != nil {
		return l, err
	}
	if (l.Type == LineCharge) != (l.Amount > 0) || l.Amount == 0 {
		return l, fmt.Errorf("amount %s has the wrong sign for a %s", rec[5], l.Type)
	}
	return l, nil
}
