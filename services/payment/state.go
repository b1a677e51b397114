package payment

import (
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// State is where a payment is in its life.
type State string

// The states of a payment (issue 6): created → pending → succeeded | failed
// | cancelled | expired; after success, partially_refunded and refunded, and
// disputed → won | lost.
const (
	Created           State = "created"
	Pending           State = "pending"
	Succeeded         State = "succeeded"
	Failed            State = "failed"
	Cancelled         State = "cancelled"
	Expired           State = "expired"
	PartiallyRefunded State = "partially_refunded"
	Refunded          State = "refunded"
	Disputed          State = "disputed"
	Won               State = "won"
	Lost              State = "lost"
)

// States lists every state.
func States() []State {
	return []State{Created, Pending, Succeeded, Failed, Cancelled, Expired, PartiallyRefunded, Refunded, Disputed, Won, Lost}
}

// transitions is the state machine: the states each state may move to.
var transitions = map[State][]State{
	Created:           {Pending, Succeeded, Failed, Cancelled, Expired},
	Pending:           {Succeeded, Failed, Cancelled, Expired},
	Succeeded:         {PartiallyRefunded, Refunded, Disputed},
	PartiallyRefunded: {PartiallyRefunded, Refunded, Disputed},
	Disputed:          {Won, Lost},
	Won:               {PartiallyRefunded, Refunded},
}

// ErrIllegalTransition is wrapped by the error a refused state change
// returns; it maps to FAILED_PRECONDITION (HTTP 409) with the reason.
var ErrIllegalTransition = fmt.Errorf("illegal transition: %w", rpcerr.ErrFailedPrecondition)

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	for _, v := range States() {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether nothing can happen to a payment in s any more.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Paid reports whether money was taken in s (it may since have been
// refunded or disputed).
func (s State) Paid() bool {
	switch s {
	case Succeeded, PartiallyRefunded, Refunded, Disputed, Won, Lost:
		return true
	}
	return false
}

// CanMove reports whether the state machine allows from → to.
func CanMove(from, to State) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Move checks from → to and returns an error naming both and why not.
func Move(from, to State) error {
	if CanMove(from, to) {
		return nil
	}
	why := "it is " + string(from)
	switch {
	case from.Terminal():
		why = fmt.Sprintf("it is %s, which is final", from)
	case to == Cancelled || to == Expired:
		why = fmt.Sprintf("it is %s: only unpaid payments can be %s", from, to)
	case to == PartiallyRefunded || to == Refunded:
		why = fmt.Sprintf("it is %s: only succeeded payments (or disputes won) can be refunded", from)
	}
	return fmt.Errorf("%w: a payment cannot become %s because %s", ErrIllegalTransition, to, why)
}

// Transition is one recorded state change.
type Transition struct {
	From, To State
	// Cause says why: "checkout", "webhook evt_…", "cancel by client", …
	Cause string
	Seq   int
	// At is when it happened (UTC).
	At time.Time
}
