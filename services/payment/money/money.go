// Package money is Tamkeen's money: integer minor units and an ISO 4217
// code, with each currency's decimal places from CLDR (ILS 2, USD 2, JOD 3).
// No float is ever used: amounts are parsed and formatted as decimal text
// digit by digit, and divided among departments by exact integer
// allocation.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// MaxAmount bounds one payment in minor units (10^15, i.e. a trillion JOD):
// far above any fee, and far enough below 2^63 that sums of many amounts
// cannot overflow int64.
const MaxAmount int64 = 1_000_000_000_000_000

// ErrUnsupportedCurrency is wrapped by errors about a currency Tamkeen does
// not take.
var ErrUnsupportedCurrency = errors.New("unsupported currency")

// Currency is an ISO 4217 code that Tamkeen accepts.
type Currency string

// The currencies Tamkeen accepts (DESIGN.md section 3).
const (
	ILS Currency = "ILS"
	JOD Currency = "JOD"
	USD Currency = "USD"
)

// supported lists the accepted currencies in a stable order.
var supported = []Currency{ILS, JOD, USD}

// Currencies returns the accepted currencies, ILS, JOD and USD.
func Currencies() []Currency { return append([]Currency(nil), supported...) }

// ParseCurrency returns the accepted currency named by code (exact, upper case).
func ParseCurrency(code string) (Currency, error) {
	for _, c := range supported {
		if string(c) == code {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w %q (want ILS, JOD or USD)", ErrUnsupportedCurrency, code)
}

// Scale is the number of decimal places of the currency's minor unit
// (ILS 2, USD 2, JOD 3), taken from CLDR through golang.org/x/text.
func (c Currency) Scale() int {
	u, err := currency.ParseISO(string(c))
	if err != nil {
		return 0
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// Format renders amount minor units of c as a decimal with exactly Scale
// places and the code, e.g. "100.000 JOD", "-0.05 ILS". No float is used.
func (c Currency) Format(amount int64) string {
	return FormatDecimal(amount, c.Scale()) + " " + string(c)
}

// FormatDecimal renders amount minor units with scale decimal places.
func FormatDecimal(amount int64, scale int) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// ErrBadAmount is wrapped by ParseDecimal's errors.
var ErrBadAmount = errors.New("bad amount")

// decimalRE is an optional minus, digits, and an optional fraction.
var decimalRE = regexp.MustCompile(`^-?[0-9]{1,19}(\.[0-9]{1,9})?$`)

// ParseDecimal parses a decimal string such as "100.000" or "12.5" into
// minor units of a currency with the given scale, exactly: more fraction
// digits than the scale, or a value beyond ±MaxAmount, is an error (never
// rounded).
func ParseDecimal(s string, scale int) (int64, error) {
	if !decimalRE.MatchString(s) {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrBadAmount, s)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > scale {
		if strings.TrimRight(frac[scale:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than %d decimal places", ErrBadAmount, s, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrBadAmount, s)
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	var pow int64 = 1
	for range scale {
		pow *= 10
	}
	if w > MaxAmount/pow {
		return 0, fmt.Errorf("%w: %q is too large", ErrBadAmount, s)
	}
	v := w*pow + f
	if v > MaxAmount {
		return 0, fmt.Errorf("%w: %q is too large", ErrBadAmount, s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// Allocate divides amount among buckets in proportion to their weights,
// exactly: each share is the floor of its proportional part, and the units
// left over go one each to the largest remainders (ties to the earlier
// bucket). No share exceeds its weight when amount <= sum(weights), and the
// shares always add up to amount. Weights must be non-negative with a
// positive sum.
func Allocate(amount int64, weights []int64) []int64 {
	shares := make([]int64, len(weights))
	var total int64
	for _, w := range weights {
		total += w
	}
	if total <= 0 || amount == 0 {
		return shares
	}
	type rem struct {
		i   int
		num uint64
	}
	rems := make([]rem, len(weights))
	var given int64
	for i, w := range weights {
		q, r := mulDiv(amount, w, total)
		shares[i] = q
		given += q
		rems[i] = rem{i, r}
	}
	// Hand out what flooring left over, largest remainder first.
	for left := amount - given; left > 0; left-- {
		best := -1
		for j, r := range rems {
			if r.num == 0 && best >= 0 {
				continue
			}
			if best < 0 || r.num > rems[best].num {
				best = j
			}
		}
		shares[rems[best].i]++
		rems[best].num = 0
	}
	return shares
}

// mulDiv returns floor(a*b/c) and (a*b) mod c for non-negative a, b and
// positive c without overflowing: the product is 128 bits wide.
func mulDiv(a, b, c int64) (q int64, r uint64) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		// The quotient would not fit in 64 bits (amount far above the
		// weights); big arithmetic keeps it exact instead of panicking.
		p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
		qq, rr := new(big.Int).QuoRem(p, big.NewInt(c), new(big.Int))
		return qq.Int64(), rr.Uint64()
	}
	qq, rr := bits.Div64(hi, lo, uint64(c))
	return int64(qq), rr
}
