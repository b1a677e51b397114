package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		in, want  string
		reason    string // the refusal's reason; "" when accepted
		notMobile bool
	}{
		// Palestinian mobiles, written every way people write them.
		"Jawwal local":             {in: "0599123456", want: "+970599123456"},
		"Jawwal local spaced":      {in: "059 912 3456", want: "+970599123456"},
		"Jawwal local hyphens":     {in: "059-912-3456", want: "+970599123456"},
		"Ooredoo local":            {in: "0569123456", want: "+970569123456"},
		"Ooredoo local dotted":     {in: "056.912.34.56", want: "+970569123456"},
		"Jawwal local Arabic":      {in: "٠٥٩٩١٢٣٤٥٦", want: "+970599123456"},
		"Jawwal local Persian":     {in: "۰۵۹۹۱۲۳۴۵۶", want: "+970599123456"},
		"Jawwal local nbsp":        {in: " 0599\u00a0123\u00a0456 ", want: "+970599123456"},
		"Jawwal +970":              {in: "+970599123456", want: "+970599123456"},
		"Ooredoo +970 hyphens":     {in: "+970 56-912-3456", want: "+970569123456"},
		"Jawwal 00970":             {in: "00970599123456", want: "+970599123456"},
		"Jawwal +970 Arabic":       {in: "+٩٧٠٥٩٩١٢٣٤٥٦", want: "+970599123456"},
		"Jawwal via +972":          {in: "+972599123456", want: "+972599123456"},
		"Ooredoo via +972":         {in: "+972 56 912 3456", want: "+972569123456"},
		"Palestinian as given 972": {in: "00972599123456", want: "+972599123456"},
		// Israeli mobiles.
		"Cellcom local":         {in: "0521234567", want: "+972521234567"},
		"Partner local":         {in: "054-123-4567", want: "+972541234567"},
		"Pelephone local":       {in: "050 123 4567", want: "+972501234567"},
		"Hot Mobile local":      {in: "(053) 123-4567", want: "+972531234567"},
		"Golan local":           {in: "0581234567", want: "+972581234567"},
		"Israeli +972":          {in: "+972 52 123 4567", want: "+972521234567"},
		"Israeli 00972":         {in: "00972541234567", want: "+972541234567"},
		"Israeli +972 Arabic":   {in: "+٩٧٢٥٢١٢٣٤٥٦٧", want: "+972521234567"},
		"Israeli +972 parens":   {in: "+972 (54) 123-4567", want: "+972541234567"},
		"Israeli local 055":     {in: "0551234567", want: "+972551234567"},
		"Israeli local unusual": {in: "0570000000", want: "+972570000000"},
		// Citizens abroad: any E.164 number.
		"Jordan":  {in: "+962 79 123 4567", want: "+962791234567"},
		"USA":     {in: "+1 (202) 555-0143", want: "+12025550143"},
		"Chile":   {in: "+56 9 6123 4567", want: "+56961234567"},
		"Germany": {in: "0049 30 123456", want: "+4930123456"},
		"Egypt":   {in: "+20 100 123 4567", want: "+201001234567"},
		// Home landlines and wrong lengths: not mobiles.
		"Ramallah landline local":  {in: "022951234", reason: ReasonLocal, notMobile: true},
		"Gaza landline local":      {in: "08 282 1234", reason: ReasonLocal, notMobile: true},
		"Jerusalem landline local": {in: "026251234", reason: ReasonLocal, notMobile: true},
		"Ramallah landline +970":   {in: "+97022987654", reason: ReasonPalestinian, notMobile: true},
		"Hebron landline 00970":    {in: "0097022221234", reason: ReasonPalestinian, notMobile: true},
		"Jerusalem landline +972":  {in: "+97221234567", reason: ReasonIsraeli, notMobile: true},
		"Tel Aviv landline +972":   {in: "+972 3 123 4567", reason: ReasonIsraeli, notMobile: true},
		"+970 other prefix":        {in: "+970529123456", reason: ReasonPalestinian, notMobile: true},
		"+970 too short":           {in: "+97059912345", reason: ReasonPalestinian, notMobile: true},
		"+970 too long":            {in: "+9705991234567", reason: ReasonPalestinian, notMobile: true},
		"+972 too long":            {in: "+9725212345678", reason: ReasonIsraeli, notMobile: true},
		"+972 too short":           {in: "+97252123456", reason: ReasonIsraeli, notMobile: true},
		"Jawwal local too short":   {in: "059912345", reason: ReasonPalestinian, notMobile: true},
		"Jawwal local too long":    {in: "05991234567", reason: ReasonPalestinian, notMobile: true},
		"Israeli local too short":  {in: "052123456", reason: ReasonIsraeli, notMobile: true},
		"Israeli local too long":   {in: "05212345678", reason: ReasonIsraeli, notMobile: true},
		"local 05 alone":           {in: "05", reason: ReasonLocal, notMobile: true},
		"local 059 alone":          {in: "059", reason: ReasonPalestinian, notMobile: true},
		"local zero":               {in: "0", reason: ReasonLocal, notMobile: true},
		// 00 reads as +, as it always has: this is Curaçao's +599.
		"00 then a local mobile": {in: "00599123456", want: "+599123456"},
		// Garbage.
		"no prefix, no zero":     {in: "599123456", reason: ReasonInternational},
		"country code, no plus":  {in: "970599123456", reason: ReasonInternational},
		"empty":                  {in: "", reason: ReasonInternational},
		"spaces":                 {in: "   ", reason: ReasonInternational},
		"words":                  {in: "call me", reason: ReasonInternational},
		"local with letters":     {in: "059912345a", reason: ReasonInternational},
		"local with text around": {in: "tel 0599123456", reason: ReasonInternational},
		"local with plus inside": {in: "0599+123456", reason: ReasonInternational},
		"too short":              {in: "+1234567", reason: ReasonE164},
		"too long":               {in: "+1234567890123456", reason: ReasonE164},
		"country code 0":         {in: "+0599123456", reason: ReasonE164},
		"plus only":              {in: "+", reason: ReasonE164},
		"letters":                {in: "+97059912345a", reason: ReasonDigits},
		"two plus signs":         {in: "++970599123456", reason: ReasonDigits},
		"extension":              {in: "+12025550143;ext=1", reason: ReasonDigits},
		"tel URI":                {in: "tel:+970599123456", reason: ReasonInternational},
		"slash":                  {in: "+970/599123456", reason: ReasonDigits},
		"full-width digits":      {in: "+９７０５９９１２３４５６", reason: ReasonDigits},
		"bidi mark":              {in: "\u200f+970599123456", reason: ReasonInternational},
		"zero-width space":       {in: "+970\u200b599123456", reason: ReasonDigits},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Normalize(tc.in)
			if tc.reason == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v; want a refusal", tc.in, got, err)
			}
			if pe.Reason != tc.reason || pe.NotMobile != tc.notMobile {
				t.Fatalf("Normalize(%q) refused with %q (not mobile: %v); want %q (not mobile: %v)", tc.in, pe.Reason, pe.NotMobile, tc.reason, tc.notMobile)
			}
		})
	}
}

func TestIsE164(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"+970599000001", true},
		{"+972521234567", true},
		{"+12025550123", true},
		{"+4930123456", true},
		{"+123456789012345", true},
		{"+1234567890123456", false},
		{"+1234567", false},
		{"0599000001", false},
		{"970599000001", false},
		{"+0599000001", false},
		{"+970 599 000 001", false},
		{"+970-599000001", false},
		{"+٩٧٠٥٩٩٠٠٠٠٠١", false},
		{"", false},
		{"+", false},
	} {
		if got := IsE164(tc.in); got != tc.want {
			t.Errorf("IsE164(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestCallingCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+970599123456": "970",
		"+972521234567": "972",
		"+12025550143":  "1",
		"+79161234567":  "7",
		"+4930123456":   "49",
		"+201001234567": "20",
		"+962791234567": "962",
		"+211912345678": "211", // 21 is no code; 211 is South Sudan
		"+80012345678":  "800", // a non-geographic code
		"+999123456789": "999", // unassigned: its first three digits
		"0599123456":    "",
		"+97059912345x": "",
	} {
		if got := CallingCode(in); got != want {
			t.Errorf("CallingCode(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzNormalize holds Normalize to its contract on any input: no panic; a
// refusal is an *Error with a reason; an accepted number is E.164, is a
// fixed point, and is a mobile when it is a home country's.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"0599123456", "+970 56-912-3456", "00972541234567", "٠٥٩٩١٢٣٤٥٦", "+12025550143",
		"022951234", "+97022987654", "05", "0", "+", "", "++1", "0599+123456", "+9725212345678", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Normalize(in)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Reason == "" || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v; want an *Error with a reason and no number", in, got, err)
			}
			return
		}
		if !IsE164(got) {
			t.Fatalf("Normalize(%q) = %q; not E.164", in, got)
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q", in, again, err, got)
		}
		switch rest := got[4:]; {
		case strings.HasPrefix(got, "+970") && !(len(rest) == 9 && (strings.HasPrefix(rest, "56") || strings.HasPrefix(rest, "59"))),
			strings.HasPrefix(got, "+972") && !(len(rest) == 9 && rest[0] == '5'):
			t.Fatalf("Normalize(%q) = %q; a home number that is not a mobile", in, got)
		}
	})
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"022951234":    "not_mobile",
		"+97022951234": "not_mobile",
		"599123456":    "international_format",
		"+9705991x345": "digits",
		"+12":          "e164",
	} {
		_, err := Normalize(in)
		pe, ok := err.(*Error)
		if !ok || pe.Code() != want {
			t.Errorf("Normalize(%q) = %v; want a refusal coded %q", in, err, want)
		}
	}
}

func TestValidCallingCode(t *testing.T) {
	for s, want := range map[string]bool{
		"970": true, "972": true, "1": true, "44": true,
		"": false, "0": false, "097": false, "9700": false, "9a": false, "+970": false, "٩٧٠": false,
	} {
		if got := ValidCallingCode(s); got != want {
			t.Errorf("ValidCallingCode(%q) = %v; want %v", s, got, want)
		}
	}
}
