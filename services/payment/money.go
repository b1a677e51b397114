package payment

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/currency"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// MaxAmount bounds one payment in minor units (10^15, i.e. a trillion JOD):
// far above any fee, and far enough below 2^63 that sums of many amounts
// cannot overflow int64.
const MaxAmount int64 = 1_000_000_000_000_000

// MaxSplits bounds the departments one payment may be split among.
const MaxSplits = 20

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

// Split routes part of a payment to a department's revenue account.
type Split struct {
	// Account is the department's account, "dept:<name>" with name in
	// lower-case letters, digits and hyphens, e.g. "dept:land-registry".
	Account string
	// Amount is in minor units of the payment's currency.
	Amount int64
}

// deptAccountRE is the form of a department's account.
var deptAccountRE = regexp.MustCompile(`^dept:[a-z0-9][a-z0-9-]{0,62}$`)

// ValidAccount reports whether a is a department account name.
func ValidAccount(a string) bool { return deptAccountRE.MatchString(a) }

// ValidateMoney checks an amount, its currency and its splits, and returns
// the currency. Every problem is a *FieldError naming the JSON field; a
// split total that differs from the amount names the difference, e.g.
// "splits add up to 99.999 JOD: 0.001 JOD less than amount 100.000 JOD".
func ValidateMoney(amount int64, code string, splits []Split) (Currency, []FieldError) {
	var errs []FieldError
	cur, err := ParseCurrency(code)
	if err != nil {
		errs = append(errs, FieldError{Field: "currency", Reason: err.Error()})
	}
	switch {
	case amount <= 0:
		errs = append(errs, FieldError{Field: "amount", Reason: "must be a positive number of minor units"})
	case amount > MaxAmount:
		errs = append(errs, FieldError{Field: "amount", Reason: fmt.Sprintf("must be at most %d minor units", MaxAmount)})
	}
	if len(splits) == 0 {
		errs = append(errs, FieldError{Field: "splits", Reason: "at least one department split is required"})
		return cur, errs
	}
	if len(splits) > MaxSplits {
		errs = append(errs, FieldError{Field: "splits", Reason: fmt.Sprintf("at most %d splits", MaxSplits)})
		return cur, errs
	}
	seen := map[string]int{}
	var total int64
	sound := true
	for i, s := range splits {
		if !ValidAccount(s.Account) {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].account", i), Reason: `must look like "dept:land-registry" (lower-case letters, digits, hyphens)`})
			sound = false
		} else if j, dup := seen[s.Account]; dup {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].account", i), Reason: fmt.Sprintf("repeats splits[%d].account", j)})
			sound = false
		} else {
			seen[s.Account] = i
		}
		if s.Amount <= 0 || s.Amount > MaxAmount {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].amount", i), Reason: "must be a positive number of minor units"})
			sound = false
			continue
		}
		total += s.Amount
	}
	if sound && amount > 0 && amount <= MaxAmount && total != amount {
		c := cur
		if c == "" {
			c = Currency(code)
		}
		diff, rel := total-amount, "more"
		if diff < 0 {
			diff, rel = -diff, "less"
		}
		fmtAmt := func(v int64) string {
			if cur == "" {
				return strconv.FormatInt(v, 10) + " minor units"
			}
			return c.Format(v)
		}
		errs = append(errs, FieldError{Field: "splits", Reason: fmt.Sprintf("splits add up to %s: %s %s than amount %s",
			fmtAmt(total), fmtAmt(diff), rel, fmtAmt(amount))})
	}
	return cur, errs
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

// FieldError names a bad request field (snake_case JSON path) and why; the
// gRPC boundary turns it into INVALID_ARGUMENT (HTTP 400) naming the field.
type FieldError = rpcerr.FieldError

// fieldErrors joins field errors into one error (nil when there are none).
func fieldErrors(fes []FieldError) error {
	if len(fes) == 0 {
		return nil
	}
	errs := make([]error, len(fes))
	for i := range fes {
		errs[i] = &fes[i]
	}
	return errors.Join(errs...)
}
