package payment

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/services/payment/money"
)

// Currency is an accepted ISO 4217 code (see package money).
type Currency = money.Currency

// The accepted currencies.
const (
	ILS = money.ILS
	JOD = money.JOD
	USD = money.USD
)

// MaxAmount bounds one payment in minor units.
const MaxAmount = money.MaxAmount

// MaxSplits bounds the departments one payment may be split among.
const MaxSplits = 20

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
	cur, err := money.ParseCurrency(code)
	if err != nil {
		errs = append(errs, FieldError{Field: "currency", Reason: err.Error(), Code: "currency.unsupported"})
	}
	maxArg := rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))
	switch {
	case amount <= 0:
		errs = append(errs, FieldError{Field: "amount", Reason: "must be a positive number of minor units", Code: "amount.range", Args: maxArg})
	case amount > MaxAmount:
		errs = append(errs, FieldError{Field: "amount", Reason: fmt.Sprintf("must be at most %d minor units", MaxAmount), Code: "amount.range", Args: maxArg})
	}
	if len(splits) == 0 {
		errs = append(errs, FieldError{Field: "splits", Reason: "at least one department split is required", Code: "splits.required"})
		return cur, errs
	}
	if len(splits) > MaxSplits {
		errs = append(errs, FieldError{Field: "splits", Reason: fmt.Sprintf("at most %d splits", MaxSplits), Code: "splits.too_many", Args: rpcerr.ArgList(strconv.Itoa(MaxSplits))})
		return cur, errs
	}
	seen := map[string]int{}
	var total int64
	sound := true
	for i, s := range splits {
		if !ValidAccount(s.Account) {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].account", i), Reason: `must look like "dept:land-registry" (lower-case letters, digits, hyphens)`, Code: "splits.account.format"})
			sound = false
		} else if j, dup := seen[s.Account]; dup {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].account", i), Reason: fmt.Sprintf("repeats splits[%d].account", j),
				Code: "splits.account.duplicate", Args: rpcerr.ArgList(fmt.Sprintf("splits[%d].account", j))})
			sound = false
		} else {
			seen[s.Account] = i
		}
		if s.Amount <= 0 || s.Amount > MaxAmount {
			errs = append(errs, FieldError{Field: fmt.Sprintf("splits[%d].amount", i), Reason: "must be a positive number of minor units", Code: "splits.amount.range"})
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
			fmtAmt(total), fmtAmt(diff), rel, fmtAmt(amount)), Code: "splits.sum_mismatch", Args: rpcerr.ArgList(fmtAmt(total), fmtAmt(amount))})
	}
	return cur, errs
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
