package notification

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// devConfig is what `tamkeen dev` gives the service.
func devConfig() Config {
	cfg := DefaultConfig()
	cfg.SMSProvider, cfg.DevMode = ProviderDevInbox, true
	return cfg
}

// syncBuffer is a log sink the service's goroutines can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// statuses collects the NotificationStatusChanged events the service
// publishes, by notification id.
type statuses struct {
	mu   sync.Mutex
	byID map[string][]string
}

func (c *statuses) of(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byID[id])
}

// env is a running service on a real embedded NATS server and a real
// database.
type env struct {
	db     *store.DB
	bus    *events.Bus
	svc    *Service
	inbox  *DevInbox
	logs   *syncBuffer
	status *statuses
}

// newBus starts an embedded JetStream server for the test.
func newBus(t testing.TB) *events.Bus {
	t.Helper()
	ns := natstest.Start(t, natsembed.Options{})
	bus, err := events.NewBus(natstest.Connect(t, ns), events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

// migrate applies the service's schema and the dev inbox's to db.
func migrate(t testing.TB, db *store.DB) {
	t.Helper()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := DevInboxMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), append(sets, inbox)...); err != nil {
		t.Fatal(err)
	}
}

// startService runs New(cfg, deps) with deps.DB = db on a fresh NATS
// server until the test ends, and waits until its streams exist; a
// deps.Now the test set is kept as the service's clock.
func startService(t testing.TB, db *store.DB, cfg Config, deps Deps) *env {
	t.Helper()
	migrate(t, db)
	e := &env{db: db, bus: newBus(t), inbox: NewDevInbox(db, nil), logs: &syncBuffer{}, status: &statuses{byID: map[string][]string{}}}
	// No timestamps: their digits could look like a code to the PII check.
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	now := deps.Now
	deps.Kit = Spec().Kit(host.Env{DB: db, Bus: e.bus, Logger: logger})
	if now != nil {
		deps.Now = now
	}
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.RunLoops(ctx, deps.Kit, cfg.Stream(), svc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
	waitFor(t, 5*time.Second, "the service's streams", func() bool {
		_, err1 := e.bus.JetStream().Stream(ctx, svc.cfg.Stream().Name)
		_, err2 := e.bus.JetStream().Stream(ctx, svc.CommandStream().Name)
		return err1 == nil && err2 == nil
	})
	stop, err := e.bus.Consume(ctx, events.ConsumerConfig{Stream: svc.cfg.Stream().Name, Durable: "test-status", FilterSubjects: []string{SubjectStatusChanged}},
		func(_ context.Context, ev events.Event) error {
			var m eventsv1.NotificationStatusChanged
			if err := ev.UnmarshalData(&m); err != nil {
				return events.Permanent(err)
			}
			e.status.mu.Lock()
			defer e.status.mu.Unlock()
			e.status.byID[m.GetNotificationId()] = append(e.status.byID[m.GetNotificationId()], m.GetStatus())
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return e
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// otpCommand builds a SendSms command the way the auth enabler does.
func otpCommand(t *testing.T, phone, code, lang string, expire time.Time) events.Event {
	t.Helper()
	ev, err := events.NewEvent("tamkeen/auth", SendSMSType, &eventsv1.SendSms{
		CommandId: "cmd_" + code, ClientId: "tamkeen-auth", PhoneNumber: phone, TemplateId: OTPTemplateID,
		Personalisation: map[string]string{"code": code}, Reference: "chl_" + code, Language: lang,
		ExpireTime: timestamppb.New(expire),
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// publish sends ev on subject through the bus, as auth's relay does.
func (e *env) publish(t *testing.T, subject string, ev events.Event) {
	t.Helper()
	if err := e.bus.Publish(context.Background(), subject, ev); err != nil {
		t.Fatal(err)
	}
}

// republish stores ev in the stream again without Nats-Msg-Id, as happens
// when an event is published after the de-duplication window: the
// consumer sees the same event id a second time.
func (e *env) republish(t *testing.T, subject string, ev events.Event) {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Header.Set(events.HeaderSpecVersion, events.SpecVersion)
	msg.Header.Set(events.HeaderID, ev.ID)
	msg.Header.Set(events.HeaderType, ev.Type)
	msg.Header.Set(events.HeaderSource, ev.Source)
	msg.Header.Set(events.HeaderTime, ev.Time.Format(time.RFC3339Nano))
	msg.Header.Set(events.HeaderContentType, ev.DataContentType)
	msg.Data = ev.Data
	if _, err := e.bus.JetStream().PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

// otpConsumerInfo returns the OTP lane consumer's state.
func (e *env) otpConsumerInfo(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := context.Background()
	c, err := e.bus.JetStream().Consumer(ctx, e.svc.CommandStream().Name, otpConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitIdle waits until the OTP lane has handled everything published to
// it: the command stream is a work queue, so a command leaves it exactly
// when its handler's outcome is acknowledged (or it is terminated).
// Consumer counters would not do: they lag behind a publish.
func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st, err := e.bus.JetStream().Stream(ctx, e.svc.CommandStream().Name)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the OTP lane to drain", func() bool {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(CommandSubjectPrefix+LaneOTP+".>"))
		if err != nil {
			t.Fatal(err)
		}
		return len(info.State.Subjects) == 0
	})
}

// inboxFor lists the dev inbox messages to phone.
func (e *env) inboxFor(t *testing.T, phone string) []InboxMessage {
	t.Helper()
	msgs, err := e.inbox.List(context.Background(), phone, 0)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// row reads the notification made for a command event.
func (e *env) row(t *testing.T, eventID string) Notification {
	t.Helper()
	n, err := getNotification(context.Background(), e.db, "event_id", eventID)
	if err != nil {
		t.Fatalf("notification for %s: %v", eventID, err)
	}
	return n
}

// waitStatus waits for a NotificationStatusChanged with status for id.
func (e *env) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	waitFor(t, 10*time.Second, "status "+status+" of "+id, func() bool {
		return slices.Contains(e.status.of(id), status)
	})
}

func TestOTPLane(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := startService(t, db, devConfig(), Deps{})
		ctx := context.Background()
		var secrets []string // phones and codes that must not reach the logs

		t.Run("delivered while 1000 bulk commands wait", func(t *testing.T) {
			for i := range 1000 {
				bulk, err := events.NewEvent("tamkeen/notification", SendSMSType, &eventsv1.SendSms{
					PhoneNumber: fmt.Sprintf("+970599%06d", i), TemplateId: "campaign", ClientId: "moh",
				})
				if err != nil {
					t.Fatal(err)
				}
				e.publish(t, CommandSubjectPrefix+"bulk.sms", bulk)
			}
			phone, code := "+970599100001", "731904"
			secrets = append(secrets, phone, code)
			start := time.Now()
			e.publish(t, SubjectOTPSMS, otpCommand(t, phone, code, LangEnglish, time.Now().Add(5*time.Minute)))
			waitFor(t, 5*time.Second, "the OTP in the dev inbox", func() bool { return len(e.inboxFor(t, phone)) == 1 })
			t.Logf("OTP reached the dev inbox %v after publishing, with 1000 bulk commands queued", time.Since(start))
			// The bulk lane's commands live in their own stream, with their
			// own consumer: the OTP lane's consumer never sees them.
			name, err := e.bus.JetStream().StreamNameBySubject(ctx, CommandSubjectPrefix+"bulk.sms")
			if err != nil || name != e.svc.QueueStream().Name {
				t.Fatalf("bulk commands go to stream %q (%v); want %q", name, err, e.svc.QueueStream().Name)
			}
			if name, _ := e.bus.JetStream().StreamNameBySubject(ctx, SubjectOTPSMS); name != e.svc.CommandStream().Name {
				t.Fatalf("OTP commands go to stream %q; want %q", name, e.svc.CommandStream().Name)
			}
		})

		t.Run("delivered exactly once with the code redacted at rest", func(t *testing.T) {
			phone, code := "+970599100002", "482913"
			secrets = append(secrets, phone, code)
			ev := otpCommand(t, phone, code, LangArabic, time.Now().Add(5*time.Minute))
			before := e.otpConsumerInfo(t).Delivered.Consumer
			e.publish(t, SubjectOTPSMS, ev)
			e.publish(t, SubjectOTPSMS, ev) // JetStream drops it by Nats-Msg-Id
			waitFor(t, 5*time.Second, "the OTP in the dev inbox", func() bool { return len(e.inboxFor(t, phone)) > 0 })
			e.waitIdle(t)
			e.republish(t, SubjectOTPSMS, ev) // past the window: a true redelivery
			e.waitIdle(t)
			if got := e.otpConsumerInfo(t).Delivered.Consumer - before; got != 2 {
				t.Fatalf("the lane delivered the command %d times; want 2 (the publish and the republish)", got)
			}
			if err := e.svc.handleSendSMS(ctx, ev, LaneOTP); err != nil { // and a third, in process
				t.Fatalf("handling the command again: %v", err)
			}

			msgs := e.inboxFor(t, phone)
			if len(msgs) != 1 {
				t.Fatalf("dev inbox has %d messages to the phone; want exactly 1", len(msgs))
			}
			if want := "رمز التحقق في تمكين: " + code + ". صالح 5 دقائق. لا تشاركه مع أحد."; msgs[0].Body != want || msgs[0].Channel != ChannelSMS {
				t.Fatalf("dev inbox message = %q (%s); want %q (sms)", msgs[0].Body, msgs[0].Channel, want)
			}
			n := e.row(t, ev.ID)
			if strings.Contains(n.Body, code) || !strings.Contains(n.Body, redactedValue) {
				t.Fatalf("stored body %q keeps the code or lacks the redaction", n.Body)
			}
			want := Notification{
				ID: n.ID, EventID: ev.ID, CommandID: "cmd_" + code, ClientID: "tamkeen-auth", Reference: "chl_" + code,
				Channel: ChannelSMS, Lane: LaneOTP, TemplateID: OTPTemplateID, Language: LangArabic, Recipient: phone,
				Body: n.Body, Encoding: UCS2, Segments: 1, Status: StatusDelivered, Attempts: 1, Provider: ProviderDevInbox,
				ProviderMessageID: msgs[0].ID, submission: submissionAccepted,
				ExpireAt: n.ExpireAt, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, SentAt: n.SentAt, CompletedAt: n.CompletedAt,
			}
			if n != want {
				t.Fatalf("notification row:\n got %+v\nwant %+v", n, want)
			}
			if n.SentAt.IsZero() || n.CompletedAt.IsZero() || n.CreatedAt.After(n.SentAt) {
				t.Fatalf("timestamps created %v sent %v completed %v; want created <= sent, completed set", n.CreatedAt, n.SentAt, n.CompletedAt)
			}
			e.waitStatus(t, n.ID, StatusDelivered)
			if got := e.status.of(n.ID); !slices.Equal(got, []string{StatusCreated, StatusSending, StatusDelivered}) {
				t.Fatalf("status events %q; want created, sending, delivered", got)
			}
		})

		t.Run("an interrupted send is retried once through the deduplicating dev inbox", func(t *testing.T) {
			phone, code := "+970599100003", "556677"
			secrets = append(secrets, phone, code)
			ev := otpCommand(t, phone, code, LangEnglish, time.Now().Add(5*time.Minute))
			e.publish(t, SubjectOTPSMS, ev)
			waitFor(t, 5*time.Second, "the OTP in the dev inbox", func() bool { return len(e.inboxFor(t, phone)) == 1 })
			e.waitIdle(t)
			// The process died after the provider took the message and
			// before the outcome was written.
			if _, err := db.ExecContext(ctx, `UPDATE notifications SET submission = $1, status = $2, sent_at = NULL, completed_at = NULL
				WHERE event_id = $3`, submissionInFlight, StatusSending, ev.ID); err != nil {
				t.Fatal(err)
			}
			e.republish(t, SubjectOTPSMS, ev)
			e.waitIdle(t)
			if got := len(e.inboxFor(t, phone)); got != 1 {
				t.Fatalf("dev inbox has %d messages; want 1", got)
			}
			if n := e.row(t, ev.ID); n.Status != StatusDelivered || n.Attempts != 2 || n.submission != submissionAccepted {
				t.Fatalf("row status %s attempts %d submission %s; want delivered after 2 attempts", n.Status, n.Attempts, n.submission)
			}
		})

		t.Run("expired command is recorded, not sent", func(t *testing.T) {
			phone, code := "+970599100004", "909090"
			secrets = append(secrets, phone, code)
			ev := otpCommand(t, phone, code, LangArabic, time.Now().Add(-time.Second))
			e.publish(t, SubjectOTPSMS, ev)
			waitFor(t, 5*time.Second, "the expired command's row", func() bool {
				_, err := getNotification(ctx, db, "event_id", ev.ID)
				return err == nil
			})
			e.waitIdle(t)
			if got := len(e.inboxFor(t, phone)); got != 0 {
				t.Fatalf("dev inbox has %d messages for an expired OTP; want 0", got)
			}
			n := e.row(t, ev.ID)
			if n.Status != StatusTechnicalFailure || n.FailureReason != ReasonExpired || n.Attempts != 0 || n.CompletedAt.IsZero() {
				t.Fatalf("row %s/%s attempts %d completed %v; want technical-failure/expired, never attempted", n.Status, n.FailureReason, n.Attempts, n.CompletedAt)
			}
			e.waitStatus(t, n.ID, StatusTechnicalFailure)
		})

		t.Run("malformed and invalid commands are dropped without blocking the next", func(t *testing.T) {
			good := "+970599100005"
			secrets = append(secrets, good, "121212", "343434", "565656")
			garbage := otpCommand(t, good, "121212", LangArabic, time.Now().Add(time.Minute))
			garbage.ID += "x"
			garbage.Data = []byte{0xff, 0xff, 0xff}
			badPhone := otpCommand(t, "0599100005", "343434", LangArabic, time.Now().Add(time.Minute))
			badLang := otpCommand(t, good, "565656", "fr", time.Now().Add(time.Minute))
			noCode, err := events.NewEvent("tamkeen/auth", SendSMSType, &eventsv1.SendSms{PhoneNumber: good, TemplateId: OTPTemplateID})
			if err != nil {
				t.Fatal(err)
			}
			valid := otpCommand(t, good, "787878", LangEnglish, time.Now().Add(5*time.Minute))
			secrets = append(secrets, "787878")
			for _, ev := range []events.Event{garbage, badPhone, badLang, noCode, valid} {
				e.publish(t, SubjectOTPSMS, ev)
			}
			waitFor(t, 5*time.Second, "the valid OTP", func() bool { return len(e.inboxFor(t, good)) == 1 })
			e.waitIdle(t)
			if info := e.otpConsumerInfo(t); info.NumRedelivered != 0 {
				t.Fatalf("%d messages were redelivered; want the bad ones terminated at once", info.NumRedelivered)
			}
			for _, ev := range []events.Event{garbage, badPhone, badLang, noCode} {
				if _, err := getNotification(ctx, db, "event_id", ev.ID); !errors.Is(err, ErrNotFound) {
					t.Errorf("bad command %s left a row (err %v)", ev.ID, err)
				}
			}
			if msgs := e.inboxFor(t, good); !strings.Contains(msgs[0].Body, "787878") {
				t.Fatalf("dev inbox got %q; want the valid command's code", msgs[0].Body)
			}
			if !strings.Contains(e.logs.String(), "((code))") {
				t.Errorf("logs do not say which placeholder was missing")
			}
		})

		logs := e.logs.String()
		for _, s := range secrets {
			if strings.Contains(logs, s) || strings.Contains(logs, strings.TrimPrefix(s, "+")) {
				t.Errorf("the logs contain the phone number or code %q", s)
			}
		}
	})
}

// recordingProvider is a hand-written provider whose answers the test
// scripts; it stands in for an SMSC that cannot deduplicate.
type recordingProvider struct {
	mu    sync.Mutex
	errs  []error // answers in order; nil or exhausted means accepted
	calls []SMS
}

func (p *recordingProvider) Name() string { return "recording" }

func (p *recordingProvider) SendSMS(_ context.Context, m SMS) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, m)
	if i := len(p.calls) - 1; i < len(p.errs) && p.errs[i] != nil {
		return "", p.errs[i]
	}
	return fmt.Sprintf("smsc-%d", len(p.calls)), nil
}

func (p *recordingProvider) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// Each case hands one command to the handler several times, as JetStream
// redeliveries would, against a provider that does not deduplicate.
func TestSMSSendOutcomes(t *testing.T) {
	temp := errors.New("smsc: connection refused")
	tests := []struct {
		name string
		errs []error
		// before runs ahead of the last delivery (to simulate a crash).
		before        func(t *testing.T, db *store.DB, eventID string)
		deliveries    int
		advance       time.Duration // clock moves this much before the last delivery
		wantErrs      int           // deliveries that return an error
		wantCalls     int
		wantStatus    string
		wantReason    string
		wantSubmitted bool
	}{
		{"accepted, awaiting a receipt", nil, nil, 2, 0, 0, 1, StatusSending, "", true},
		{"temporary error then accepted", []error{temp}, nil, 2, 0, 1, 2, StatusSending, "", true},
		{"permanent refusal", []error{fmt.Errorf("%w: unknown subscriber", ErrPermanentSend)}, nil, 2, 0, 0, 1, StatusPermanentFailure, ReasonProviderRefused, false},
		{"attempts exhausted", []error{temp, temp, temp, temp, temp, temp}, nil, 6, 0, 4, 5, StatusTechnicalFailure, ReasonAttemptsExhausted, false},
		{"expires while retrying", []error{temp}, nil, 2, 10 * time.Minute, 1, 1, StatusTechnicalFailure, ReasonExpired, false},
		{"interrupted send is not repeated", nil, func(t *testing.T, db *store.DB, eventID string) {
			if _, err := db.ExecContext(context.Background(), `UPDATE notifications SET submission = $1, status = $2, sent_at = NULL WHERE event_id = $3`,
				submissionInFlight, StatusSending, eventID); err != nil {
				t.Fatal(err)
			}
		}, 2, 0, 0, 1, StatusTechnicalFailure, ReasonOutcomeUnknown, false},
	}
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		bus := newBus(t)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				clock := time.Now().UTC()
				prov := &recordingProvider{errs: tc.errs}
				svc, err := New(DefaultConfig(), Deps{
					Kit: Spec().Kit(host.Env{DB: db, Bus: bus, Now: func() time.Time { return clock }}), SMSProvider: prov,
				})
				if err != nil {
					t.Fatal(err)
				}
				ev := otpCommand(t, "+970599200001", "246810", LangEnglish, clock.Add(5*time.Minute))
				var errs int
				for i := range tc.deliveries {
					if i == tc.deliveries-1 {
						clock = clock.Add(tc.advance)
						if tc.before != nil {
							tc.before(t, db, ev.ID)
						}
					}
					err := svc.handleSendSMS(ctx, ev, LaneOTP)
					if errors.Is(err, events.ErrPermanent) {
						t.Fatalf("delivery %d: %v; want no permanent error", i+1, err)
					}
					if err != nil {
						errs++
					}
				}
				n := e2row(t, db, ev.ID)
				if errs != tc.wantErrs || prov.callCount() != tc.wantCalls || n.Status != tc.wantStatus || n.FailureReason != tc.wantReason {
					t.Fatalf("errors %d, provider calls %d, row %s/%s; want %d, %d, %s/%s",
						errs, prov.callCount(), n.Status, n.FailureReason, tc.wantErrs, tc.wantCalls, tc.wantStatus, tc.wantReason)
				}
				if submitted := n.submission == submissionAccepted && !n.SentAt.IsZero() && n.ProviderMessageID != ""; submitted != tc.wantSubmitted {
					t.Fatalf("row submission %s sent %v provider id %q; want submitted %v", n.submission, n.SentAt, n.ProviderMessageID, tc.wantSubmitted)
				}
				if n.final() == n.CompletedAt.IsZero() {
					t.Fatalf("status %s but completed_at %v", n.Status, n.CompletedAt)
				}
				for _, c := range prov.calls {
					if c.Body != "Your Tamkeen verification code is 246810. It expires in 5 minutes. Do not share it with anyone." ||
						c.To != "+970599200001" || c.Reference != n.ID || c.Encoding != GSM7 || c.Segments != 1 {
						t.Fatalf("provider got %+v; want the rendered English OTP referenced by %s", c, n.ID)
					}
				}
			})
		}
	})
}

// e2row reads the notification made for a command event.
func e2row(t *testing.T, db *store.DB, eventID string) Notification {
	t.Helper()
	n, err := getNotification(context.Background(), db, "event_id", eventID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// With no provider configured, OTP commands wait in the work queue.
func TestNoProviderLeavesCommandsQueued(t *testing.T) {
	e := startService(t, storetest.SQLite(t), DefaultConfig(), Deps{})
	ctx := context.Background()
	e.publish(t, SubjectOTPSMS, otpCommand(t, "+970599300001", "111222", LangArabic, time.Now().Add(5*time.Minute)))
	time.Sleep(200 * time.Millisecond)
	if _, err := e.bus.JetStream().Consumer(ctx, e.svc.CommandStream().Name, otpConsumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("OTP consumer lookup = %v; want ErrConsumerNotFound", err)
	}
	st, err := e.bus.JetStream().Stream(ctx, e.svc.CommandStream().Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("command stream holds %d messages; want the 1 OTP waiting", info.State.Msgs)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		problem string
	}{
		{"defaults", nil, DefaultConfig(), ""},
		{"tamkeen dev", map[string]string{"TAMKEEN_SMS_PROVIDER": "devinbox", "TAMKEEN_DEV_MODE": "true"}, devConfig(), ""},
		{"smpp", map[string]string{"TAMKEEN_SMS_PROVIDER": "smpp", "TAMKEEN_SMPP_ADDR": "smsc.example:2775", "TAMKEEN_SMPP_SYSTEM_ID": "tamkeen",
			"TAMKEEN_SMPP_WINDOW": "32"}, func() Config {
			c := DefaultConfig()
			c.SMSProvider, c.SMPP.Addr, c.SMPP.SystemID, c.SMPP.Window = ProviderSMPP, "smsc.example:2775", "tamkeen", 32
			return c
		}(), ""},
		{"dev inbox outside dev mode", map[string]string{"TAMKEEN_SMS_PROVIDER": "devinbox"}, Config{}, "devinbox is allowed only with --dev-mode"},
		{"unknown provider", map[string]string{"TAMKEEN_SMS_PROVIDER": "sms"}, Config{}, `"sms" is not none, smpp, http or devinbox`},
		{"smpp without an address", map[string]string{"TAMKEEN_SMS_PROVIDER": "smpp"}, Config{}, "smpp-addr"},
		{"smtp without a host", map[string]string{"TAMKEEN_EMAIL_PROVIDER": "smtp"}, Config{}, "smtp-host"},
		{"http without a receipt secret", map[string]string{"TAMKEEN_SMS_PROVIDER": "http", "TAMKEEN_HTTP_SMS_URL": "https://sms.example/send"}, Config{}, "http-sms-receipt-secret"},
		{"callbacks need a key", map[string]string{"TAMKEEN_CALLBACKS": "moh=https://moh.example/cb"}, Config{}, "callback-key"},
		{"bad callback", map[string]string{"TAMKEEN_CALLBACKS": "moh", "TAMKEEN_CALLBACK_KEY": "0123456789abcdef"}, Config{}, "client_id=url"},
		{"bad home calling code", map[string]string{"TAMKEEN_HOME_COUNTRY_CODES": "970,0970"}, Config{}, `"0970" is not a calling code`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			fs := flag.NewFlagSet("notification", flag.ContinueOnError)
			err := config.Load(&cfg, fs, nil, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("Load err = %v; want %q", err, tc.problem)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(cfg, tc.want) {
				t.Fatalf("Load = %+v, %v; want %+v", cfg, err, tc.want)
			}
		})
	}
}

// New builds the dev inbox provider from Deps.DB when configured, and
// nothing when not.
func TestNewProviderChoice(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	bus := newBus(t)
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"none", DefaultConfig(), Deps{}, ""},
		{"dev inbox", devConfig(), Deps{}, ProviderDevInbox},
		{"injected wins", devConfig(), Deps{SMSProvider: &recordingProvider{}}, "recording"},
	}
	for _, tc := range tests {
		deps := tc.deps
		deps.Kit = Spec().Kit(host.Env{DB: db, Bus: bus})
		svc, err := New(tc.cfg, deps)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if svc.sms != nil {
			got = svc.sms.Name()
		}
		if got != tc.want {
			t.Errorf("%s: provider %q; want %q", tc.name, got, tc.want)
		}
	}
	outside := DefaultConfig()
	outside.SMSProvider = ProviderDevInbox
	if _, err := New(outside, Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus})}); err == nil {
		t.Errorf("New with the dev inbox outside dev mode succeeded; want a configuration error")
	}
}
