package notification

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// bulkTotal sizes the kill-mid-bulk test: 2,000 keeps `go test` quick;
// issue 4's figure is -bulk=10000 (about two minutes on SQLite here).
var bulkTotal = flag.Int("bulk", 2000, "messages in TestBulkKilledMidwayAndRestarted")

func TestBulkValidatesEveryRowUpFront(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), nil)
	moh := a.iss.as(t, "moh")
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "reminder", Channel: "sms", Language: "en", Body: "Dear ((name)), your dose is due on ((date))."})
	if err != nil {
		t.Fatal(err)
	}
	csv := "phone_number,name,date\n" +
		"+970599000010,Sara,1 May\n" +
		"970599000011,Omar,2 May\n" + // not E.164 (no +)
		"+970599000012,,3 May\n" + // empty is a value
		"+970599000013,Lina\n" + // no date
		"+4930123456,Hans,4 May\n" // international
	_, err = a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms", Csv: csv})
	got := rpcerr.FieldViolations(err)
	want := []rpcerr.FieldError{
		{Field: "rows[3].phone_number", Reason: "not an E.164 number (e.g. +970599000001)", Code: "rows.phone_number.e164"},
		{Field: "rows[5].personalisation", Reason: "no value for ((date))", Code: "rows.personalisation.missing", Args: rpcerr.ArgList("date")},
		{Field: "rows[6].phone_number", Reason: "international destinations are not allowed for this client", Code: "rows.phone_number.international"},
	}
	if code(err) != codes.InvalidArgument || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bulk with bad rows = %v\n%v; want %v", err, got, want)
	}
	if n, _, _ := a.svc.ListNotifications(context.Background(), "moh", ListFilter{}); len(n) != 0 {
		t.Fatalf("a refused job queued %d messages; want none", len(n))
	}
	job, err := a.api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms",
		Csv: "phone_number,name,date,reference\n+970599000010,Sara,1 May,r1\n+970599000012,Omar,3 May,r2\n"})
	if err != nil || job.GetTotal() != 2 {
		t.Fatalf("valid job = %v, %v", job, err)
	}
	waitFor(t, 10*time.Second, "the job finished", func() bool {
		j, err := a.api.GetBulkJob(moh, &notificationv1.GetBulkJobRequest{Id: job.GetId()})
		return err == nil && j.GetStatus() == "finished" && j.GetSent() == 2
	})
	if _, err := a.api.GetBulkJob(a.iss.as(t, "mof"), &notificationv1.GetBulkJobRequest{Id: job.GetId()}); code(err) != codes.NotFound {
		t.Errorf("another client reads the job: %v; want NotFound", err)
	}
}

// TestBulkKilledMidwayAndRestarted sends 10,000 messages, measures an
// OTP's latency behind that backlog, kills the service mid-job (the SMPP
// link cut at the same moment, so submits in flight lose their answers)
// and restarts it on the same database and NATS server. Every message
// reaches the SMSC at most once; those whose answer was lost end
// technical-failure/outcome-unknown (the documented window), all others
// are delivered.
func TestBulkKilledMidwayAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of messages")
	}
	total := *bulkTotal
	db := storetest.SQLite(t)
	migrate(t, db)
	bus := newBus(t)
	center := newSMSC(t)
	iss := newIssuer(t)
	px := newProxy(t, center.addr())
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.SMPP = ProviderSMPP, smppConfig(px.l.Addr().String())
	cfg.SMPP.Window = 64
	cfg.EmailProvider, cfg.ClientDailyLimit = ProviderNone, 0
	cfg.RetryBase = 20 * time.Millisecond
	run := func() (*Service, context.CancelFunc, chan error) {
		kit := Spec().Kit(host.Env{DB: db, Bus: bus})
		svc, err := New(cfg, Deps{Kit: kit, Verifier: iss.verifier(t)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- host.RunLoops(ctx, kit, cfg.Stream(), svc) }()
		return svc, cancel, done
	}
	svc, cancel, done := run()
	api := &grpcServer{svc: svc}
	moh := iss.as(t, "moh")
	tpl, err := api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "campaign", Channel: "sms", Language: "en", Body: "Vaccination reminder ((n)): bring your card."})
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("phone_number,n\n")
	for i := range total {
		fmt.Fprintf(&csv, "+970599%06d,%d\n", i, i)
	}
	start := time.Now()
	job, err := api.CreateBulkJob(moh, &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms", Csv: csv.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bulk job of %d validated and queued in %v", total, time.Since(start))

	// An OTP behind the backlog.
	waitFor(t, 30*time.Second, "the bulk lane under way", func() bool { return len(center.got()) >= 200 })
	otpPhone := "+970591111111"
	sent := time.Now()
	ev := otpCommand(t, otpPhone, "424242", LangEnglish, time.Now().Add(5*time.Minute))
	if err := bus.Publish(context.Background(), SubjectOTPSMS, ev); err != nil {
		t.Fatal(err)
	}
	var latency time.Duration
	waitFor(t, 10*time.Second, "the OTP at the SMSC", func() bool {
		for _, s := range center.got() {
			if s.Dest == strings.TrimPrefix(otpPhone, "+") {
				latency = s.At.Sub(sent)
				return true
			}
		}
		return false
	})
	backlog := total - len(center.got())
	t.Logf("OTP reached the SMSC %v after publishing, with %d bulk messages still queued", latency, backlog)
	if latency > 3*time.Second {
		t.Errorf("OTP latency %v behind a bulk backlog; want well under a second", latency)
	}

	// Kill mid-job: the link and the service go at once.
	waitFor(t, time.Duration(total/50)*time.Second+30*time.Second, "a third of the job at the SMSC", func() bool { return len(center.got()) >= total/3 })
	px.cut()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	atKill := len(center.got())
	t.Logf("killed with %d of %d at the SMSC", atKill, total)

	_, cancel2, done2 := run()
	t.Cleanup(func() { cancel2(); <-done2 })
	// Final, or accepted by the SMSC with its receipt lost on the cut link
	// (the test SMSC sends receipts only on the submitting session).
	waitFor(t, time.Duration(total/20)*time.Second+30*time.Second, "every message submitted or final", func() bool {
		var open int
		err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM notifications
WHERE bulk_job_id = $1 AND NOT (status IN ($2, $3, $4) OR (status = $5 AND submission = $6))`,
			job.GetId(), StatusDelivered, StatusTechnicalFailure, StatusPermanentFailure, StatusSending, submissionAccepted).Scan(&open)
		return err == nil && open == 0
	})
	t.Logf("all %d messages final %v after the job was queued", total, time.Since(start))

	// The SMSC saw each message at most once.
	seen := map[string]int{}
	for _, s := range center.got() {
		seen[s.Text()]++
	}
	for text, n := range seen {
		if n > 1 {
			t.Errorf("the SMSC got %q %d times", text, n)
		}
	}
	rows, err := db.QueryContext(context.Background(), `SELECT status, failure_reason, submission, COUNT(*) FROM notifications
WHERE bulk_job_id = $1 GROUP BY status, failure_reason, submission`, job.GetId())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var delivered, accepted, unknown int
	for rows.Next() {
		var st, reason, sub string
		var n int
		if err := rows.Scan(&st, &reason, &sub, &n); err != nil {
			t.Fatal(err)
		}
		switch {
		case st == StatusDelivered && sub == submissionAccepted:
			delivered += n
		case st == StatusSending && sub == submissionAccepted:
			accepted += n
		case st == StatusTechnicalFailure && reason == ReasonOutcomeUnknown:
			unknown += n
		default:
			t.Errorf("%d messages end %s/%s (submission %s); want delivered or outcome-unknown", n, st, reason, sub)
		}
	}
	bulkAtSMSC := len(seen) - 1 // the OTP
	sure := delivered + accepted
	if sure+unknown != total || bulkAtSMSC < sure || bulkAtSMSC > sure+unknown {
		t.Errorf("delivered %d, accepted %d, outcome-unknown %d, at the SMSC %d; want delivered+accepted ≤ SMSC ≤ delivered+accepted+unknown = %d",
			delivered, accepted, unknown, bulkAtSMSC, total)
	}
	t.Logf("delivered %d, accepted with the receipt lost on the cut link %d, outcome-unknown (the documented window) %d", delivered, accepted, unknown)
}
