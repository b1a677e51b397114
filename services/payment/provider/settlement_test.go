package provider

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSettlementCSVRoundTrip(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	lines := []SettlementLine{
		{Date: day, Type: LineCharge, ChargeRef: "ch_1", PaymentID: "pay_1", Ref: "ch_1", Amount: 100000, Currency: "JOD"},
		{Date: day, Type: LineRefund, ChargeRef: "ch_1", PaymentID: "pay_1", Ref: "rf_1", Amount: -1, Currency: "JOD"},
		{Date: day, Type: LineCharge, ChargeRef: "ch_2", PaymentID: "pay_2", Ref: "ch_2", Amount: 2550, Currency: "ILS"},
		{Date: day, Type: LineChargeback, ChargeRef: "ch_3", PaymentID: "pay_3", Ref: "ch_3", Amount: -999, Currency: "USD"},
	}
	var buf bytes.Buffer
	if err := WriteSettlementCSV(&buf, lines); err != nil {
		t.Fatal(err)
	}
	want := "settlement_date,type,charge_id,payment_id,reference,amount,currency\n" +
		"2026-03-01,charge,ch_1,pay_1,ch_1,100.000,JOD\n" +
		"2026-03-01,refund,ch_1,pay_1,rf_1,-0.001,JOD\n" +
		"2026-03-01,charge,ch_2,pay_2,ch_2,25.50,ILS\n" +
		"2026-03-01,chargeback,ch_3,pay_3,ch_3,-9.99,USD\n"
	if buf.String() != want {
		t.Fatalf("CSV =\n%s\nwant\n%s", buf.String(), want)
	}
	got, err := ParseSettlementCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(lines) {
		t.Fatalf("parsed %d lines; want %d", len(got), len(lines))
	}
	for i := range lines {
		if got[i] != lines[i] {
			t.Errorf("line %d = %+v; want %+v", i, got[i], lines[i])
		}
	}
}

func TestParseSettlementCSVErrors(t *testing.T) {
	t.Parallel()
	head := "settlement_date,type,charge_id,payment_id,reference,amount,currency\n"
	for _, tc := range []struct{ name, csv, wantIn string }{
		{"empty", "", "header"},
		{"wrong header", "date,type,charge,payment,reference,amount,currency\n", "column 1"},
		{"float-ish amount", head + "2026-03-01,charge,ch_1,pay_1,ch_1,100.0001,JOD\n", "line 2"},
		{"two decimals too many for ILS", head + "2026-03-01,charge,ch_1,pay_1,ch_1,1.005,ILS\n", "decimal places"},
		{"bad date", head + "01/03/2026,charge,ch_1,pay_1,ch_1,1.00,ILS\n", "settlement_date"},
		{"bad type", head + "2026-03-01,payout,ch_1,pay_1,ch_1,1.00,ILS\n", "type"},
		{"unknown currency", head + "2026-03-01,charge,ch_1,pay_1,ch_1,1.00,EUR\n", "EUR"},
		{"negative charge", head + "2026-03-01,charge,ch_1,pay_1,ch_1,-1.00,ILS\n", "sign"},
		{"positive refund", head + "2026-03-01,refund,ch_1,pay_1,rf_1,1.00,ILS\n", "sign"},
		{"missing column", head + "2026-03-01,charge,ch_1,pay_1,1.00,ILS\n", "fields"},
		{"no charge id", head + "2026-03-01,charge,,pay_1,ch_1,1.00,ILS\n", "charge_id"},
		{"line 3", head + "2026-03-01,charge,ch_1,pay_1,ch_1,1.00,ILS\n2026-03-01,charge,ch 2,pay_1,ch_1,1.00,ILS\n", "line 3"},
	} {
		_, err := ParseSettlementCSV(strings.NewReader(tc.csv))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("%s: err = %v; want ErrMalformed mentioning %q", tc.name, err, tc.wantIn)
		}
	}
}

// FuzzParseSettlementCSV: nothing crashes the parser, and whatever it
// accepts writes back and parses to the same lines.
func FuzzParseSettlementCSV(f *testing.F) {
	head := "settlement_date,type,charge_id,payment_id,reference,amount,currency\n"
	f.Add(head + "2026-03-01,charge,ch_1,pay_1,ch_1,100.000,JOD\n")
	f.Add(head + "2026-03-01,refund,ch_1,pay_1,rf_1,-0.01,ILS\n\"a\"\"b\",x\n")
	f.Add("\ufeff" + head)
	f.Add(head + "2026-03-01,charge,ch_1,,ch_1,9999999999999999999,USD\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := ParseSettlementCSV(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := WriteSettlementCSV(&buf, lines); err != nil {
			t.Fatalf("write back: %v", err)
		}
		again, err := ParseSettlementCSV(&buf)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", buf.String(), err)
		}
		if len(again) != len(lines) {
			t.Fatalf("re-parse gave %d lines; want %d", len(again), len(lines))
		}
		for i := range lines {
			if again[i] != lines[i] {
				t.Fatalf("line %d round-trips to %+v; want %+v", i, again[i], lines[i])
			}
		}
	})
}
