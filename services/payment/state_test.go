package payment

import (
	"errors"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// TestMoveExhaustive checks every (from, to) pair against the table the
// issue gives, so that a change to the machine is a deliberate change here.
func TestMoveExhaustive(t *testing.T) {
	t.Parallel()
	allowed := map[[2]State]bool{}
	for _, p := range [][2]State{
		{Created, Pending}, {Created, Succeeded}, {Created, Failed}, {Created, Cancelled}, {Created, Expired},
		{Pending, Succeeded}, {Pending, Failed}, {Pending, Cancelled}, {Pending, Expired},
		{Succeeded, PartiallyRefunded}, {Succeeded, Refunded}, {Succeeded, Disputed},
		{PartiallyRefunded, PartiallyRefunded}, {PartiallyRefunded, Refunded}, {PartiallyRefunded, Disputed},
		{Disputed, Won}, {Disputed, Lost},
		{Won, PartiallyRefunded}, {Won, Refunded},
	} {
		allowed[p] = true
	}
	for _, from := range States() {
		for _, to := range States() {
			err := Move(from, to)
			want := allowed[[2]State{from, to}]
			if (err == nil) != want {
				t.Errorf("Move(%s, %s) = %v; want allowed %v", from, to, err, want)
			}
			if err != nil {
				if !errors.Is(err, ErrIllegalTransition) || !errors.Is(err, rpcerr.ErrFailedPrecondition) {
					t.Errorf("Move(%s, %s) error %v does not wrap ErrIllegalTransition and ErrFailedPrecondition", from, to, err)
				}
				if !strings.Contains(err.Error(), string(from)) || !strings.Contains(err.Error(), string(to)) {
					t.Errorf("Move(%s, %s) error %q does not name both states", from, to, err)
				}
			}
		}
	}
}

func TestStateProperties(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s              State
		terminal, paid bool
	}{
		{Created, false, false}, {Pending, false, false}, {Succeeded, false, true},
		{Failed, true, false}, {Cancelled, true, false}, {Expired, true, false},
		{PartiallyRefunded, false, true}, {Refunded, true, true}, {Disputed, false, true},
		{Won, false, true}, {Lost, true, true},
	} {
		if tc.s.Terminal() != tc.terminal || tc.s.Paid() != tc.paid || !tc.s.Valid() {
			t.Errorf("%s: terminal %v paid %v valid %v; want %v %v true", tc.s, tc.s.Terminal(), tc.s.Paid(), tc.s.Valid(), tc.terminal, tc.paid)
		}
	}
	if State("paid").Valid() {
		t.Error(`State("paid").Valid() = true`)
	}
	if len(States()) != 11 {
		t.Errorf("States() has %d; the proto documents 11", len(States()))
	}
}
