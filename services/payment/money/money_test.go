package money

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestCurrencyScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cur  Currency
		want int
	}{{ILS, 2}, {USD, 2}, {JOD, 3}} {
		if got := tc.cur.Scale(); got != tc.want {
			t.Errorf("%s.Scale() = %d; want %d", tc.cur, got, tc.want)
		}
	}
}

func TestParseCurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{{"ILS", false}, {"JOD", false}, {"USD", false}, {"EUR", true}, {"jod", true}, {"", true}, {"JODX", true}} {
		_, err := ParseCurrency(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseCurrency(%q) err = %v; want error %v", tc.in, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedCurrency) {
			t.Errorf("ParseCurrency(%q) err = %v; want ErrUnsupportedCurrency", tc.in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cur    Currency
		amount int64
		want   string
	}{
		{JOD, 100000, "100.000 JOD"},
		{JOD, 1, "0.001 JOD"},
		{JOD, -1, "-0.001 JOD"},
		{ILS, 5, "0.05 ILS"},
		{ILS, 0, "0.00 ILS"},
		{USD, 123456, "1234.56 USD"},
		{USD, -100, "-1.00 USD"},
		{JOD, MaxAmount, "1000000000000.000 JOD"},
	} {
		if got := tc.cur.Format(tc.amount); got != tc.want {
			t.Errorf("%s.Format(%d) = %q; want %q", tc.cur, tc.amount, got, tc.want)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		scale   int
		want    int64
		wantErr bool
	}{
		{"100.000", 3, 100000, false},
		{"100", 3, 100000, false},
		{"12.5", 2, 1250, false},
		{"0.001", 3, 1, false},
		{"-0.05", 2, -5, false},
		{"1.50", 1, 15, false}, // trailing zeros beyond the scale are exact
		{"1.005", 2, 0, true},  // would need rounding
		{"1e3", 2, 0, true},
		{"", 2, 0, true},
		{".5", 2, 0, true},
		{"5.", 2, 0, true},
		{"+5", 2, 0, true},
		{"1,000.00", 2, 0, true},
		{"9999999999999999999", 3, 0, true},
		{"1000000000000.000", 3, MaxAmount, false},
		{"1000000000000.001", 3, 0, true},
	} {
		got, err := ParseDecimal(tc.in, tc.scale)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, error %v", tc.in, tc.scale, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		cur := supported[r.IntN(len(supported))]
		v := r.Int64N(2*MaxAmount+1) - MaxAmount
		s := FormatDecimal(v, cur.Scale())
		got, err := ParseDecimal(s, cur.Scale())
		if err != nil || got != v {
			t.Fatalf("ParseDecimal(FormatDecimal(%d)) = %d, %v", v, got, err)
		}
	}
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		amount  int64
		weights []int64
		want    []int64
	}{
		{"exact", 100, []int64{50, 30, 20}, []int64{50, 30, 20}},
		{"half", 50, []int64{50, 30, 20}, []int64{25, 15, 10}},
		{"thirds", 100, []int64{1, 1, 1}, []int64{34, 33, 33}},
		{"one unit", 1, []int64{1, 1, 1}, []int64{1, 0, 0}},
		{"largest remainder", 10, []int64{33, 33, 34}, []int64{3, 3, 4}},
		{"zero weight", 5, []int64{0, 10}, []int64{0, 5}},
		{"zero amount", 0, []int64{1, 2}, []int64{0, 0}},
		{"huge", MaxAmount, []int64{MaxAmount - 1, 1}, []int64{MaxAmount - 1, 1}},
		{"above the weights", 10, []int64{1, 1}, []int64{5, 5}},
	} {
		got := Allocate(tc.amount, tc.weights)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: Allocate(%d, %v) = %v; want %v", tc.name, tc.amount, tc.weights, got, tc.want)
				break
			}
		}
	}
}

// TestAllocateProperties: shares add up to the amount and never exceed
// their weight, for random inputs.
func TestAllocateProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		n := 1 + r.IntN(6)
		ws := make([]int64, n)
		var total int64
		for i := range ws {
			ws[i] = r.Int64N(1_000_000_000)
			total += ws[i]
		}
		if total == 0 {
			continue
		}
		amount := r.Int64N(total + 1)
		shares := Allocate(amount, ws)
		var sum int64
		for i, s := range shares {
			if s < 0 || s > ws[i] {
				t.Fatalf("Allocate(%d, %v) = %v: share %d outside 0..%d", amount, ws, shares, i, ws[i])
			}
			sum += s
		}
		if sum != amount {
			t.Fatalf("Allocate(%d, %v) = %v sums to %d", amount, ws, shares, sum)
		}
	}
}
