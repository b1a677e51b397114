package distributed_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/tools/distributed"
)

// drillRTO is the recovery time objective the drill must meet on this
// machine: from the cut to the first payment that succeeds on the DR
// side. It is the drill's pass mark, not a race: a measured run takes a
// few seconds, and a loaded CI machine many times that.
const drillRTO = 90 * time.Second

// TestDRDrill runs the disaster-recovery drill (make dr-drill): load on
// the primary, the primary cut off, the replica promoted, the DR NATS
// mirrors promoted, the services started on the DR side. With synchronous
// replication every payment and registration answered 2xx before the cut
// is there, payments paid before the cut are still paid, and the ledger
// balances. With the WAL archive of the k8s DR overlay (archive_timeout
// 5min) the same drill finds the load's payments missing: the RPO count
// sees a loss when there is one.
func TestDRDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("creates two PostgreSQL clusters, two NATS servers and seven processes: not with -short")
	}
	if _, err := distributed.FindPostgresBin(); err != nil {
		if os.Getenv("TAMKEEN_TEST_SKIP_DR") == "1" {
			t.Skipf("TAMKEEN_TEST_SKIP_DR=1: %v", err)
		}
		t.Fatalf("%v (or set TAMKEEN_TEST_SKIP_DR=1 to skip the DR drill)", err)
	}
	root, err := distributed.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := distributed.Build(ctx, root, bin, distributed.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	drill := func(t *testing.T, replication string, load time.Duration) *distributed.DrillReport {
		t.Helper()
		rep, err := distributed.RunDrill(ctx, distributed.DrillOptions{
			RepoRoot: root, BinDir: bin, Load: load, Workers: 3, Replication: replication,
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if rep != nil {
			var b strings.Builder
			rep.Print(&b)
			t.Log("\n" + b.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		if rep.Payments == 0 || rep.Paid == 0 || rep.Registrations == 0 {
			t.Fatalf("the load committed %d payments (%d paid) and %d registrations on the primary; want some of each", rep.Payments, rep.Paid, rep.Registrations)
		}
		if rep.EventsPrimary == 0 {
			t.Error("the primary's streams held no events at the cut; want the load's")
		}
		if rep.OTPs+rep.OTPsOnDR-rep.OTPsTwice+rep.OTPsNever != rep.Registrations {
			t.Errorf("OTP accounting: %d primary + %d DR - %d both + %d never != %d registrations", rep.OTPs, rep.OTPsOnDR, rep.OTPsTwice, rep.OTPsNever, rep.Registrations)
		}
		if rep.RTO <= 0 || rep.RTO > drillRTO {
			t.Errorf("RTO = %s; want within %s", rep.RTO, drillRTO)
		}
		if !strings.Contains(rep.LedgerCheck, "OK") {
			t.Errorf("tamkeen ledger check on the DR side printed %q; want OK", rep.LedgerCheck)
		}
		return rep
	}

	t.Run("synchronous", func(t *testing.T) {
		rep := drill(t, distributed.ReplicationSync, 5*time.Second)
		if rep.PaymentsMissing != 0 {
			t.Errorf("committed payments missing on the DR side = %d of %d; want 0 (synchronous replication)", rep.PaymentsMissing, rep.Payments)
		}
		if rep.PaidLost != 0 {
			t.Errorf("payments paid before the cut and not succeeded on the DR side = %d of %d; want 0", rep.PaidLost, rep.Paid)
		}
		if rep.RegistrationsMissing != 0 {
			t.Errorf("registrations missing on the DR side = %d of %d; want 0", rep.RegistrationsMissing, rep.Registrations)
		}
	})
	t.Run("archive", func(t *testing.T) {
		// 3 s of load fills no 16 MB WAL segment, and archive_timeout is
		// 5 minutes: the last payments (all, in practice) are lost.
		rep := drill(t, distributed.ReplicationArchive, 3*time.Second)
		if rep.PaymentsMissing == 0 || rep.RegistrationsMissing == 0 {
			t.Errorf("committed payments missing = %d of %d, registrations %d of %d, after replaying the WAL archive; want a loss (the archive has none of the load)",
				rep.PaymentsMissing, rep.Payments, rep.RegistrationsMissing, rep.Registrations)
		}
	})
}
