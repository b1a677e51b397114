package notification

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// Environment of the child process TestNotificationProcess runs as.
const (
	childEnv     = "TAMKEEN_TEST_NOTIFICATION_CHILD"
	childDB      = "TAMKEEN_TEST_CHILD_DB"
	childNATS    = "TAMKEEN_TEST_CHILD_NATS"
	childSMSC    = "TAMKEEN_TEST_CHILD_SMSC"
	childVersion = "1"
)

// TestNotificationProcess is not a test: it is the notification service
// run as its own process by TestBulkProcessKilledAndRestarted, which kills
// it with SIGKILL. It skips unless that test started it.
func TestNotificationProcess(t *testing.T) {
	if os.Getenv(childEnv) != childVersion {
		t.Skip("the child process of TestBulkProcessKilledAndRestarted")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: os.Getenv(childDB)})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(os.Getenv(childNATS), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := killTestConfig(os.Getenv(childSMSC))
	kit := Spec().Kit(host.Env{DB: db, Bus: bus})
	svc, err := New(cfg, Deps{Kit: kit})
	if err != nil {
		t.Fatal(err)
	}
	// Runs until the parent kills the process.
	if err := host.RunLoops(ctx, kit, cfg.Stream(), svc); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// killTestConfig sends over SMPP to addr as fast as the bulk lane goes.
func killTestConfig(addr string) Config {
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.SMPP = ProviderSMPP, smppConfig(addr)
	cfg.SMPP.Window = 64
	cfg.EmailProvider, cfg.ClientDailyLimit = ProviderNone, 0
	cfg.RetryBase = 20 * time.Millisecond
	return cfg
}

// TestBulkProcessKilledAndRestarted: a 10,000-message bulk job is sent by
// the notification service running as a separate process; the process is
// killed with SIGKILL mid-job (no shutdown code runs) and a new one is
// started on the same database and NATS server. Every message reaches the
// SMSC at most once; each is delivered, accepted by the SMSC and awaiting
// its receipt (the test SMSC sends receipts only on the session that
// submitted, which died with the process; a real SMSC queues them for the
// next bind), or ends technical-failure/outcome-unknown when its submit_sm
// was in flight at the kill (the window doc.go documents).
func TestBulkProcessKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages and two processes")
	}
	total := *bulkTotal
	if total < 10000 {
		total = 10000
	}
	dbPath := filepath.Join(t.TempDir(), "notification.db")
	db := storetest.SQLiteFile(t, dbPath)
	migrate(t, db)
	ns := natstest.Start(t, natsembed.Options{Listen: true})
	nc := natstest.Connect(t, ns)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	center := newSMSC(t)
	iss := newIssuer(t)

	// The API in this process writes the job (rows and outbox); the child
	// processes relay and send it.
	api := &grpcServer{svc: mustNew(t, killTestConfig(center.addr()), Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus}), Verifier: iss.verifier(t)})}
	moh := iss.as(t, "moh")
	tpl, err := api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "campaign", Channel: "sms", Language: "en", Body: "Vaccination reminder ((n)): bring your card."})
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("phone_number,n\n")
	for i := range total {
		fmt.Fprintf(&csv, "+970598%06d,%d\n", i, i)
	}
	job, err := api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms", Csv: csv.String()})
	if err != nil {
		t.Fatal(err)
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNotificationProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), childEnv+"="+childVersion, childDB+"="+dbPath,
			childNATS+"="+ns.ClientURL(), childSMSC+"="+center.addr())
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	waitFor(t, 120*time.Second, "a third of the job at the SMSC", func() bool { return len(center.got()) >= total/3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	atKill := len(center.got())
	t.Logf("SIGKILL with %d of %d at the SMSC", atKill, total)

	second := start()
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGKILL)
		_ = second.Wait()
	})
	waitFor(t, 400*time.Second, "every message submitted or final", func() bool {
		var open int
		err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notifications
WHERE bulk_job_id = $1 AND NOT (status IN ($2, $3, $4) OR (status = $5 AND submission = $6))`,
			job.GetId(), StatusDelivered, StatusTechnicalFailure, StatusPermanentFailure, StatusSending, submissionAccepted).Scan(&open)
		return err == nil && open == 0
	})

	seen := map[string]int{}
	for _, s := range center.got() {
		seen[s.Text()]++
	}
	for text, n := range seen {
		if n > 1 {
			t.Errorf("the SMSC got %q %d times", text, n)
		}
	}
	var delivered, accepted, unknown, other int
	rows, err := db.QueryContext(context.Background(), `SELECT status, failure_reason, COUNT(*) FROM notifications
WHERE bulk_job_id = $1 GROUP BY status, failure_reason`, job.GetId())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st, reason string
		var n int
		if err := rows.Scan(&st, &reason, &n); err != nil {
			t.Fatal(err)
		}
		switch {
		case st == StatusDelivered:
			delivered += n
		case st == StatusSending:
			accepted += n
		case st == StatusTechnicalFailure && reason == ReasonOutcomeUnknown:
			unknown += n
		default:
			other += n
			t.Errorf("%d messages end %s/%s; want delivered or outcome-unknown", n, st, reason)
		}
	}
	sure := delivered + accepted
	if sure+unknown+other != total || len(seen) < sure || len(seen) > sure+unknown {
		t.Errorf("delivered %d, accepted %d, outcome-unknown %d, at the SMSC %d; want delivered+accepted ≤ SMSC ≤ delivered+accepted+unknown = %d",
			delivered, accepted, unknown, len(seen), total)
	}
	t.Logf("delivered %d, accepted awaiting a receipt lost with the killed session %d, outcome-unknown (in flight at the SIGKILL) %d", delivered, accepted, unknown)
}

// mustNew builds a service that the test does not run.
func mustNew(t *testing.T, cfg Config, deps Deps) *Service {
	t.Helper()
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
