package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// TestCreateChargeTx: a charge registered in the enabler's transaction
// exists only if that transaction commits, and then it is the payment's one
// charge: CreateCharge for the same payment answers it.
func TestCreateChargeTx(t *testing.T) {
	a, _ := newAcquirer(t)
	ctx := context.Background()
	req := provider.ChargeRequest{PaymentID: "pay_tx", Amount: 1500, Currency: "ILS", ReturnURL: "https://m.example/r"}
	rolledBack := errors.New("the payment's transaction failed")
	var lost provider.Charge
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if lost, err = a.CreateChargeTx(ctx, tx, req); err != nil {
			return err
		}
		return rolledBack
	})
	if !errors.Is(err, rolledBack) {
		t.Fatalf("rolled-back transaction: %v", err)
	}
	if _, err := a.ChargeStatus(ctx, lost.Ref); !errors.Is(err, provider.ErrUnknownCharge) {
		t.Fatalf("charge of a rolled-back transaction: %v; want ErrUnknownCharge", err)
	}
	var ch provider.Charge
	if err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		ch, err = a.CreateChargeTx(ctx, tx, req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ch.Ref == lost.Ref || ch.NextURL != "https://gw.example/sandbox/checkout/"+ch.Ref {
		t.Fatalf("charge %+v (rolled back: %s); want a new charge with its checkout URL", ch, lost.Ref)
	}
	again, err := a.CreateCharge(ctx, req)
	if err != nil || again != ch {
		t.Fatalf("CreateCharge after CreateChargeTx: %+v, %v; want %+v", again, err, ch)
	}
	if st, err := a.ChargeStatus(ctx, ch.Ref); err != nil || st != provider.StatusOpen {
		t.Fatalf("status %q, %v; want open", st, err)
	}
}
