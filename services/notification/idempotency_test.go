package notification

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// countRows counts the rows of table (notifications or bulk_jobs) matching
// where (with args).
func countRows(t *testing.T, db *store.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitQueueDrained waits until the normal and bulk lanes hold no command.
func (a *apiEnv) waitQueueDrained(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st, err := a.bus.JetStream().Stream(ctx, a.svc.QueueStream().Name)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the normal and bulk lanes to drain", func() bool {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(CommandSubjectPrefix+">"))
		if err != nil {
			t.Fatal(err)
		}
		return len(info.State.Subjects) == 0
	})
}

// wantKeyReused checks that err is the payments' answer to a reused
// Idempotency-Key: InvalidArgument, reason IDEMPOTENCY_KEY_REUSED (422 at
// the gateway), naming idempotency_key.
func wantKeyReused(t *testing.T, what string, err error) {
	t.Helper()
	fv := rpcerr.FieldViolations(err)
	if code(err) != codes.InvalidArgument || rpcerr.Reason(err) != "IDEMPOTENCY_KEY_REUSED" || len(fv) != 1 || fv[0].Field != "idempotency_key" {
		t.Fatalf("%s = %v (reason %q, fields %v); want InvalidArgument IDEMPOTENCY_KEY_REUSED on idempotency_key", what, err, rpcerr.Reason(err), fv)
	}
}

// TestIdempotentSMSSend is issue 17's safe retry: 16 identical SMS sends
// with one Idempotency-Key at once make one notification, one submit_sm at
// the SMSC and 16 answers naming it; the key with another body is refused
// as payments refuse it; keys are per client and per route; a retry is
// answered even when the first send filled the recipient's limit.
func TestIdempotentSMSSend(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := startAPI(t, db, func(c *Config) { c.RecipientHourlyLimit = 1 })
		moh, mof := a.iss.as(t, "moh"), a.iss.as(t, "mof")
		tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello ((name))"})
		if err != nil {
			t.Fatal(err)
		}
		req := &notificationv1.SendSmsRequest{PhoneNumber: "+970599000021", TemplateId: tpl.GetId(), Reference: "appt-1",
			Personalisation: map[string]string{"name": "Sara"}, IdempotencyKey: "idem-7f3a"}

		const senders = 16
		var (
			wg   sync.WaitGroup
			got  [senders]*notificationv1.Notification
			errs [senders]error
		)
		for i := range senders {
			in := proto.Clone(req).(*notificationv1.SendSmsRequest)
			wg.Go(func() { got[i], errs[i] = a.api.SendSms(moh, in) })
		}
		wg.Wait()
		for i := range senders {
			if errs[i] != nil {
				t.Fatalf("send %d = %v; want the notification", i, errs[i])
			}
			if got[i].GetId() != got[0].GetId() || got[i].GetBody() != got[0].GetBody() || got[i].GetRecipient() != "+970599000021" ||
				!got[i].GetCreateTime().AsTime().Equal(got[0].GetCreateTime().AsTime()) {
				t.Fatalf("send %d = %v; want the same notification as send 0 (%v)", i, got[i], got[0])
			}
		}
		id := got[0].GetId()
		if n := countRows(t, a.db, "notifications", "client_id = $1", "moh"); n != 1 {
			t.Fatalf("%d identical sends with one key made %d notifications; want 1", senders, n)
		}
		a.waitNotification(t, moh, id, StatusDelivered)
		a.waitQueueDrained(t)
		if subs := a.center.got(); len(subs) != 1 || subs[0].Text() != "Hello Sara" {
			t.Fatalf("the SMSC got %d submits; want 1 (Hello Sara)", len(subs))
		}

		t.Run("a retry is answered although the first send filled the limit", func(t *testing.T) {
			n, err := a.api.SendSms(moh, proto.Clone(req).(*notificationv1.SendSmsRequest))
			if err != nil || n.GetId() != id || n.GetStatus() != StatusDelivered {
				t.Fatalf("retry = %v, %v; want %s as it is now (delivered)", n, err, id)
			}
			other := proto.Clone(req).(*notificationv1.SendSmsRequest)
			other.IdempotencyKey = ""
			if _, err := a.api.SendSms(moh, other); code(err) != codes.ResourceExhausted {
				t.Fatalf("a send without the key = %v; want ResourceExhausted (the recipient's limit is full)", err)
			}
		})
		t.Run("the key with another body is refused", func(t *testing.T) {
			for name, edit := range map[string]func(*notificationv1.SendSmsRequest){
				"personalisation": func(r *notificationv1.SendSmsRequest) { r.Personalisation = map[string]string{"name": "Omar"} },
				"recipient":       func(r *notificationv1.SendSmsRequest) { r.PhoneNumber = "+970599000022" },
				"reference":       func(r *notificationv1.SendSmsRequest) { r.Reference = "appt-2" },
				"priority":        func(r *notificationv1.SendSmsRequest) { r.Priority = LaneBulk },
			} {
				other := proto.Clone(req).(*notificationv1.SendSmsRequest)
				edit(other)
				_, err := a.api.SendSms(moh, other)
				wantKeyReused(t, "the key with another "+name, err)
			}
			if n := countRows(t, a.db, "notifications", "client_id = $1", "moh"); n != 1 {
				t.Fatalf("refused sends made notifications: %d; want 1", n)
			}
		})
		t.Run("keys are per client", func(t *testing.T) {
			// mof's send with moh's key (its own template, so another
			// body) is neither refused nor answered with moh's message.
			tplF, err := a.api.CreateTemplate(mof, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hi ((name))"})
			if err != nil {
				t.Fatal(err)
			}
			in := proto.Clone(req).(*notificationv1.SendSmsRequest)
			in.TemplateId, in.PhoneNumber = tplF.GetId(), "+970599000023"
			n, err := a.api.SendSms(mof, in)
			if err != nil || n.GetId() == id {
				t.Fatalf("mof's send with moh's key = %v, %v; want a new notification", n, err)
			}
			again, err := a.api.SendSms(mof, proto.Clone(in).(*notificationv1.SendSmsRequest))
			if err != nil || again.GetId() != n.GetId() {
				t.Fatalf("mof's send again = %v, %v; want %s", again, err, n.GetId())
			}
			if m, err := a.api.SendSms(moh, proto.Clone(req).(*notificationv1.SendSmsRequest)); err != nil || m.GetId() != id {
				t.Fatalf("moh's send again = %v, %v; want %s", m, err, id)
			}
		})
		t.Run("keys are per route", func(t *testing.T) {
			etpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "e", Channel: "email", Language: "en", Subject: "Hi", Body: "Hello ((name))"})
			if err != nil {
				t.Fatal(err)
			}
			n, err := a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "sara@example.ps", TemplateId: etpl.GetId(),
				Personalisation: map[string]string{"name": "Sara"}, IdempotencyKey: req.GetIdempotencyKey()})
			if err != nil || n.GetId() == id || n.GetChannel() != ChannelEmail {
				t.Fatalf("an e-mail with the SMS's key = %v, %v; want a new e-mail", n, err)
			}
			again, err := a.api.SendEmail(moh, &notificationv1.SendEmailRequest{EmailAddress: "sara@example.ps", TemplateId: etpl.GetId(),
				Personalisation: map[string]string{"name": "Sara"}, IdempotencyKey: req.GetIdempotencyKey()})
			if err != nil || again.GetId() != n.GetId() {
				t.Fatalf("the e-mail again = %v, %v; want %s", again, err, n.GetId())
			}
		})
		t.Run("a malformed key is refused", func(t *testing.T) {
			for _, k := range []string{"a b", "مفتاح", strings.Repeat("k", 256)} {
				in := proto.Clone(req).(*notificationv1.SendSmsRequest)
				in.IdempotencyKey = k
				_, err := a.api.SendSms(moh, in)
				if fv := rpcerr.FieldViolations(err); code(err) != codes.InvalidArgument || len(fv) != 1 || fv[0].Field != "idempotency_key" {
					t.Errorf("key %.20q = %v; want InvalidArgument on idempotency_key", k, err)
				}
			}
		})
	})
}

// TestIdempotencyKeyExpires: a key is remembered for the TTL only; after
// it, the key is taken over by the next request, whatever its body, and
// the sweep deletes the expired keys.
func TestIdempotencyKeyExpires(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		clock := clocktest.NewLive()
		a := startAPIWith(t, db, func(c *Config) { c.IdempotencyTTL = time.Hour }, Deps{Kit: host.Kit{Now: clock.Now}})
		moh := a.iss.as(t, "moh")
		tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello ((name))"})
		if err != nil {
			t.Fatal(err)
		}
		send := func(name string) (*notificationv1.Notification, error) {
			return a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000031", TemplateId: tpl.GetId(),
				Personalisation: map[string]string{"name": name}, IdempotencyKey: "k-1"})
		}
		first, err := send("Sara")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(59 * time.Minute)
		_, err = send("Omar")
		wantKeyReused(t, "another body 59 minutes later", err)
		if n, err := send("Sara"); err != nil || n.GetId() != first.GetId() {
			t.Fatalf("the same body 59 minutes later = %v, %v; want %s", n, err, first.GetId())
		}

		clock.Advance(2 * time.Minute)
		second, err := send("Omar")
		if err != nil || second.GetId() == first.GetId() {
			t.Fatalf("another body after the TTL = %v, %v; want a new notification", second, err)
		}
		_, err = send("Sara")
		wantKeyReused(t, "the first body once the key was taken over", err)

		if n, err := a.svc.pruneIdempotencyKeys(context.Background()); err != nil || n != 0 {
			t.Fatalf("prune of a fresh key = %d, %v; want 0", n, err)
		}
		clock.Advance(time.Hour + time.Minute)
		if n, err := a.svc.pruneIdempotencyKeys(context.Background()); err != nil || n != 1 {
			t.Fatalf("prune after the TTL = %d, %v; want 1", n, err)
		}
		if n := countRows(t, a.db, "idempotency_keys", "client_id = $1", "moh"); n != 0 {
			t.Fatalf("%d keys left after the sweep; want 0", n)
		}
		third, err := send("Sara")
		if err != nil || third.GetId() == first.GetId() || third.GetId() == second.GetId() {
			t.Fatalf("a send with the swept key = %v, %v; want a new notification", third, err)
		}
	})
}

// TestIdempotentBulkJob: 8 identical bulk jobs with one key at once make
// one job of 3 messages; the key with other rows is refused.
func TestIdempotentBulkJob(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := startAPI(t, db, nil)
		moh := a.iss.as(t, "moh")
		tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Dose due ((date))"})
		if err != nil {
			t.Fatal(err)
		}
		req := &notificationv1.CreateBulkJobRequest{TemplateId: tpl.GetId(), Channel: "sms", Reference: "campaign-5", IdempotencyKey: "bulk-5",
			Csv: "phone_number,date\n+970599000041,1 May\n+970599000042,2 May\n+970599000043,3 May\n"}
		const senders = 8
		var (
			wg   sync.WaitGroup
			got  [senders]*notificationv1.BulkJob
			errs [senders]error
		)
		for i := range senders {
			in := proto.Clone(req).(*notificationv1.CreateBulkJobRequest)
			wg.Go(func() { got[i], errs[i] = a.api.CreateBulkJob(moh, in) })
		}
		wg.Wait()
		for i := range senders {
			if errs[i] != nil || got[i].GetId() != got[0].GetId() || got[i].GetTotal() != 3 {
				t.Fatalf("job %d = %v, %v; want job %s of 3", i, got[i], errs[i], got[0].GetId())
			}
		}
		if n := countRows(t, a.db, "bulk_jobs", "client_id = $1", "moh"); n != 1 {
			t.Fatalf("%d identical jobs with one key made %d jobs; want 1", senders, n)
		}
		if n := countRows(t, a.db, "notifications", "client_id = $1", "moh"); n != 3 {
			t.Fatalf("the jobs queued %d messages; want 3", n)
		}
		a.waitQueueDrained(t)
		if subs := a.center.got(); len(subs) != 3 {
			t.Fatalf("the SMSC got %d submits; want 3", len(subs))
		}
		other := proto.Clone(req).(*notificationv1.CreateBulkJobRequest)
		other.Csv = strings.Replace(other.Csv, "3 May", "4 May", 1)
		_, err = a.api.CreateBulkJob(moh, other)
		wantKeyReused(t, "the key with other rows", err)
		j, err := a.api.CreateBulkJob(moh, proto.Clone(req).(*notificationv1.CreateBulkJobRequest))
		if err != nil || j.GetId() != got[0].GetId() || j.GetQueued() != 0 || j.GetStatus() != "finished" {
			t.Fatalf("the job again = %v, %v; want %s with its progress now (finished)", j, err, got[0].GetId())
		}
		if s := fmt.Sprint(countRows(t, a.db, "bulk_jobs", "client_id = $1", "moh")); s != "1" {
			t.Fatalf("bulk jobs after the retries = %s; want 1", s)
		}
	})
}

// BenchmarkIdempotencyKey measures what a key adds to a send: "new" is
// the lookup before the work and the claim in a transaction of its own (a
// send does it in its queue transaction), "retry" the lookup that answers
// a repeated request.
func BenchmarkIdempotencyKey(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) *store.DB
	}{
		{"sqlite", func(b *testing.B) *store.DB { return storetest.SQLiteFile(b, b.TempDir()+"/bench.db") }},
		{"postgres", func(b *testing.B) *store.DB { return storetest.PostgresDB(b, storetest.PostgresDatabase(b)) }},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			sets, err := Migrations()
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Migrate(context.Background(), sets...); err != nil {
				b.Fatal(err)
			}
			s := limitService(db, DefaultConfig(), time.Now)
			ctx := context.Background()
			in := SendInput{Channel: ChannelSMS, Recipient: "+970599000001", TemplateID: "tpl_1", Personalisation: map[string]string{"name": "Sara"}}
			b.Run("new", func(b *testing.B) {
				i := 0
				for b.Loop() {
					i++
					idem := newIdempotency("moh", scopeSendSMS, fmt.Sprintf("k-%d", i), in.fingerprint(LaneNormal))
					if _, found, err := s.earlier(ctx, idem); err != nil || found {
						b.Fatal(found, err)
					}
					if err := db.InTx(ctx, func(tx *sql.Tx) error {
						_, _, err := s.claim(ctx, tx, idem, fmt.Sprintf("ntf_%d", i))
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("retry", func(b *testing.B) {
				idem := newIdempotency("moh", scopeSendSMS, "k-1", in.fingerprint(LaneNormal))
				for b.Loop() {
					if _, found, err := s.earlier(ctx, idem); err != nil || !found {
						b.Fatal(found, err)
					}
				}
			})
		})
	}
}
