package gateway_test

import (
	"slices"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
)

// TestRightNarrowing: a right prints as its name followed by its narrowing,
// which `tamkeen rights show` lists in its own column.
func TestRightNarrowing(t *testing.T) {
	t.Parallel()
	plain := gateway.Right{Service: "notification", Operation: "SendSms"}
	if got := plain.String(); got != "notification/SendSms" || plain.Narrowing() != nil {
		t.Errorf("plain right: String = %q, Narrowing = %q; want notification/SendSms and none", got, plain.Narrowing())
	}
	narrow := gateway.Right{Service: "notification", Operation: "SendSms", Templates: []string{"tpl_a", "tpl_b"}, Ministries: []string{"moh"}}
	if got, want := narrow.Narrowing(), []string{"templates=tpl_a,tpl_b", "ministries=moh"}; !slices.Equal(got, want) {
		t.Errorf("Narrowing = %q; want %q", got, want)
	}
	if got, want := narrow.String(), "notification/SendSms templates=tpl_a,tpl_b ministries=moh"; got != want {
		t.Errorf("String = %q; want %q", got, want)
	}
}
