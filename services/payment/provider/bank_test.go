package provider

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseIBAN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, code string
	}{
		{"PS50PALS000000000000012340001", "PS50PALS000000000000012340001", ""},
		{"ps50 pals 0000 0000 0000 0123 4000 1", "PS50PALS000000000000012340001", ""},
		{"GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", ""},
		{"JO94CBJO0010000000000131000302", "JO94CBJO0010000000000131000302", ""},
		{"PS51PALS000000000000012340001", "", "check_digit"},
		{"PS50PALS00000000000001234000", "", "length"},
		{"PS50PALS0000000000000123400011", "", "length"},
		{"XX50PALS000000000000012340001", "", "country"},
		{"PS5OPALS000000000000012340001", "", "format"},
		{"PS50-PALS-0000", "", "format"},
		{"", "", "format"},
		{"PS", "", "format"},
		{strings.Repeat("1", 65), "", "length"},
	} {
		got, err := ParseIBAN(tc.in)
		var ie *IBANError
		switch {
		case tc.code == "" && (err != nil || got != tc.want):
			t.Errorf("ParseIBAN(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.code != "" && (!errors.As(err, &ie) || ie.Code != tc.code):
			t.Errorf("ParseIBAN(%q) = %q, %v; want code %s", tc.in, got, err, tc.code)
		case err != nil && strings.Contains(err.Error(), "PALS"):
			t.Errorf("ParseIBAN(%q) error repeats the input: %v", tc.in, err)
		}
	}
	if got := MaskIBAN("PS50PALS000000000000012340001"); got != "PS50*********************0001" {
		t.Errorf("MaskIBAN = %q", got)
	}
}

func FuzzParseIBAN(f *testing.F) {
	for _, s := range []string{"PS50PALS000000000000012340001", "GB82 WEST 1234 5698 7654 32", "ps", "PS50-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iban, err := ParseIBAN(s)
		if err != nil {
			return
		}
		// A valid IBAN is canonical: it parses to itself, has its
		// country's length and MOD 97-10 remainder 1.
		again, err := ParseIBAN(iban)
		if err != nil || again != iban || len(iban) != ibanLengths[iban[:2]] || ibanMod97(iban) != 1 {
			t.Fatalf("ParseIBAN(%q) = %q, not canonical (%v)", s, iban, err)
		}
		if IBANCheckDigits(iban[:2], iban[4:]) != iban[2:4] {
			t.Fatalf("IBANCheckDigits disagrees with ParseIBAN on %q", iban)
		}
	})
}

func TestPain008AndCamt054RoundTrip(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	debits := []DirectDebit{{EndToEndID: "col_1", MandateID: "mdt_1", SignedOn: due, Amount: 12345, Currency: "JOD", DueDate: due,
		Creditor: "moh", DebtorName: "Layla", DebtorIBAN: "PS50PALS000000000000012340001", Reference: "W-1"}}
	msg, err := WritePain008("dd_1", due, debits)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), `<InstdAmt Ccy="JOD">12.345</InstdAmt>`) {
		t.Errorf("pain.008 amount not in JOD's scale:\n%s", msg)
	}
	id, back, err := ParsePain008(msg)
	if err != nil || id != "dd_1" || len(back) != 1 || back[0] != debits[0] {
		t.Fatalf("ParsePain008 = %q, %+v, %v", id, back, err)
	}
	results := []DebitResult{{EndToEndID: "col_1", Amount: 12345, Currency: "JOD", Settled: true, Booked: due},
		{EndToEndID: "col_2", Amount: 500, Currency: "ILS", ReasonCode: ReasonInsufficientFunds, Booked: due}}
	camt, err := WriteCamt054("camt_1", "dd_1", due, results)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCamt054(camt, "dd_1")
	if err != nil || len(got) != 2 || got[0] != results[0] || got[1] != results[1] {
		t.Fatalf("ParseCamt054 = %+v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"other message":   strings.Replace(string(camt), "<MsgId>dd_1</MsgId>", "<MsgId>dd_2</MsgId>", 1),
		"no reason":       strings.Replace(string(camt), "<Cd>AM04</Cd>", "<Cd></Cd>", 1),
		"pending":         strings.Replace(string(camt), "<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>", 1),
		"amount":          strings.Replace(string(camt), ">5.00<", ">-1<", 1),
		"scale":           strings.Replace(string(camt), "12.345", "12.3456", 1),
		"currency":        strings.Replace(string(camt), `Ccy="JOD"`, `Ccy="EUR"`, 1),
		"trailing":        string(camt) + "<x/>",
		"wrong namespace": strings.Replace(string(camt), "camt.054.001.02", "camt.053.001.02", 1),
	} {
		if _, err := ParseCamt054([]byte(bad), "dd_1"); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseCamt054 = %v; want ErrMalformed", name, err)
		}
	}
}

func FuzzParseCamt054(f *testing.F) {
	due := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	camt, _ := WriteCamt054("camt_1", "dd_1", due, []DebitResult{{EndToEndID: "col_1", Amount: 100, Currency: "ILS", Settled: true, Booked: due},
		{EndToEndID: "col_2", Amount: 7, Currency: "JOD", ReasonCode: "AC04", Booked: due}})
	f.Add(camt)
	f.Add([]byte("<Document/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		results, err := ParseCamt054(data, "dd_1")
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// What parses is applied: it must hold exactly what the enabler
		// needs, and survive a round trip.
		for _, r := range results {
			if r.EndToEndID == "" || r.Amount <= 0 || r.Settled == (r.ReasonCode != "") || r.Booked.IsZero() {
				t.Fatalf("accepted result %+v", r)
			}
		}
		out, err := WriteCamt054("camt_1", "dd_1", due, results)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseCamt054(out, "dd_1")
		if err != nil || len(again) != len(results) {
			t.Fatalf("round trip: %v, %d of %d", err, len(again), len(results))
		}
		for i := range again {
			if again[i] != results[i] {
				t.Fatalf("round trip changed %+v into %+v", results[i], again[i])
			}
		}
	})
}
