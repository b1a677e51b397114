package payment

import (
	"strings"
	"testing"
)

func TestValidateMoney(t *testing.T) {
	t.Parallel()
	three := []Split{{"dept:land-registry", 50000}, {"dept:municipality", 30000}, {"dept:treasury", 20000}}
	for _, tc := range []struct {
		name     string
		amount   int64
		currency string
		splits   []Split
		// wantFields are the fields named, in order; reasonHas is a
		// substring of the first reason.
		wantFields []string
		reasonHas  string
	}{
		{name: "jod three ways", amount: 100000, currency: "JOD", splits: three},
		{name: "single split", amount: 1, currency: "ILS", splits: []Split{{"dept:a", 1}}},
		{name: "short by one fils", amount: 100000, currency: "JOD",
			splits:     []Split{{"dept:a", 50000}, {"dept:b", 30000}, {"dept:c", 19999}},
			wantFields: []string{"splits"}, reasonHas: "splits add up to 99.999 JOD: 0.001 JOD less than amount 100.000 JOD"},
		{name: "over by a shekel", amount: 1000, currency: "ILS",
			splits:     []Split{{"dept:a", 1100}},
			wantFields: []string{"splits"}, reasonHas: "1.00 ILS more than amount 10.00 ILS"},
		{name: "unknown currency", amount: 100, currency: "EUR", splits: []Split{{"dept:a", 100}},
			wantFields: []string{"currency"}, reasonHas: "EUR"},
		{name: "zero amount", amount: 0, currency: "USD", splits: []Split{{"dept:a", 1}},
			wantFields: []string{"amount"}},
		{name: "negative amount", amount: -5, currency: "USD", splits: []Split{{"dept:a", 1}},
			wantFields: []string{"amount"}},
		{name: "too large", amount: MaxAmount + 1, currency: "USD", splits: []Split{{"dept:a", MaxAmount + 1}},
			wantFields: []string{"amount", "splits[0].amount"}},
		{name: "no splits", amount: 100, currency: "USD", wantFields: []string{"splits"}},
		{name: "bad account", amount: 100, currency: "USD", splits: []Split{{"Land Registry", 100}},
			wantFields: []string{"splits[0].account"}},
		{name: "duplicate account", amount: 100, currency: "USD", splits: []Split{{"dept:a", 50}, {"dept:a", 50}},
			wantFields: []string{"splits[1].account"}, reasonHas: "repeats splits[0].account"},
		{name: "zero split", amount: 100, currency: "USD", splits: []Split{{"dept:a", 100}, {"dept:b", 0}},
			wantFields: []string{"splits[1].amount"}},
		{name: "negative split cannot balance a larger one", amount: 100, currency: "USD", splits: []Split{{"dept:a", 150}, {"dept:b", -50}},
			wantFields: []string{"splits[1].amount"}},
		{name: "too many splits", amount: 21, currency: "USD", splits: manySplits(21), wantFields: []string{"splits"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, fes := ValidateMoney(tc.amount, tc.currency, tc.splits)
			var got []string
			for _, fe := range fes {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantFields, ",") {
				t.Fatalf("fields = %v; want %v (errors %v)", got, tc.wantFields, fes)
			}
			if tc.reasonHas != "" && !strings.Contains(fes[0].Reason, tc.reasonHas) {
				t.Errorf("reason = %q; want it to contain %q", fes[0].Reason, tc.reasonHas)
			}
		})
	}
}

func manySplits(n int) []Split {
	out := make([]Split, n)
	for i := range out {
		out[i] = Split{Account: "dept:d" + string(rune('a'+i)), Amount: 1}
	}
	return out
}
