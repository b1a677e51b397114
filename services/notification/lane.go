package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Command lanes: each has its own durable consumer, so an OTP never waits
// behind the normal and bulk lanes.
const (
	// LaneOTP carries one-time codes and other urgent messages.
	LaneOTP = "otp"
	// LaneNormal carries the API's single messages.
	LaneNormal = "normal"
	// LaneBulk carries bulk jobs' messages (and API messages sent with
	// priority "bulk").
	LaneBulk = "bulk"
)

// SubjectOTPSMS is where the auth enabler publishes SendSms commands with
// one-time codes (through its outbox). The command's ce-type is not
// checked; SendSMSType is the one to use.
const SubjectOTPSMS = CommandSubjectPrefix + LaneOTP + ".sms"

// Event types.
const (
	// SendSMSType is the ce-type of a SendSms command.
	SendSMSType = "tamkeen.notification.cmd.send_sms.v1"
	// SendEmailType is the ce-type of a SendEmail command.
	SendEmailType = "tamkeen.notification.cmd.send_email.v1"
	// DeliveredType and FailedType are the ce-types of the events on
	// SubjectDelivered and SubjectFailed.
	DeliveredType = "tamkeen.notification.delivered.v1"
	FailedType    = "tamkeen.notification.failed.v1"
	// StatusChangedType is the ce-type of NotificationStatusChanged.
	StatusChangedType = "tamkeen.notification.status_changed.v1"
)

// The OTP lane's consumer.
const (
	// otpConsumer is the durable name, shared by every replica.
	otpConsumer = "notification-otp"
	// otpMaxAckPending keeps few OTPs in flight per replica set, so that a
	// slow provider holds up little and a crash strands little.
	otpMaxAckPending = 16
	// otpWorkers is how many OTPs one replica sends at once.
	otpWorkers = 4
	// otpMaxDeliver is a backstop; attempts are counted in the row and
	// expiry ends retries long before it.
	otpMaxDeliver = 50
	// defaultOTPLife applies to an OTP command without an expire time: a
	// code is useless after its 5-minute life.
	defaultOTPLife = 5 * time.Minute
	// bookkeepingTimeout bounds recording a send's outcome, which goes on
	// after the consumer is told to stop so a sent message is not left
	// looking unsent.
	bookkeepingTimeout = 10 * time.Second
)

// otpBackoff is the redelivery schedule after a temporary failure: short,
// since an OTP is wanted now and expires in minutes.
func otpBackoff() []time.Duration {
	return []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second}
}

// smsRequest is a validated, rendered SendSms command.
type smsRequest struct {
	cmd      *eventsv1.SendSms
	lane     string
	language string
	send     string // the text to send, secrets included: memory only
	stored   string // the text to keep, secrets redacted
	length   SMSLength
	expireAt time.Time
}

// prepareSMS validates cmd and renders its message. Its errors name
// fields, never values.
func (s *Service) prepareSMS(ev events.Event, cmd *eventsv1.SendSms, lane string) (smsRequest, error) {
	// Enablers send what libs/phone made of what the citizen typed: a
	// command's number must already be in that form (E.164, a mobile at
	// home), never a local one.
	if to, err := phone.Normalize(cmd.GetPhoneNumber()); err != nil || to != cmd.GetPhoneNumber() {
		return smsRequest{}, &rpcerr.FieldError{Field: "phone_number", Reason: "not an E.164 number", Code: "phone_number.e164"}
	}
	lang := cmd.GetLanguage()
	if lang == "" {
		lang = LangArabic
	}
	t, err := s.templates.find(cmd.GetTemplateId(), ChannelSMS, lang)
	if err != nil {
		return smsRequest{}, &rpcerr.FieldError{Field: "template_id", Reason: fmt.Sprintf("no SMS template %q in language %q", cmd.GetTemplateId(), lang), Code: "template_id.unknown"}
	}
	send, stored, err := renderSMS(t, cmd.GetPersonalisation())
	if err != nil {
		return smsRequest{}, err
	}
	length := MeasureSMS(send)
	if length.Segments > s.cfg.MaxSMSSegments {
		return smsRequest{}, &rpcerr.FieldError{Field: "personalisation", Reason: fmt.Sprintf("the message needs %d segments; at most %d are allowed", length.Segments, s.cfg.MaxSMSSegments),
			Code: "personalisation.segments", Args: rpcerr.ArgList(strconv.Itoa(length.Segments), strconv.Itoa(s.cfg.MaxSMSSegments))}
	}
	expireAt := ev.Time.Add(defaultOTPLife)
	if cmd.GetExpireTime() != nil {
		if err := cmd.GetExpireTime().CheckValid(); err != nil {
			return smsRequest{}, &rpcerr.FieldError{Field: "expire_time", Reason: "not a valid timestamp", Code: "expire_time.format"}
		}
		expireAt = cmd.GetExpireTime().AsTime()
	}
	return smsRequest{
		cmd: cmd, lane: lane, language: lang, send: send, stored: stored, length: length,
		expireAt: store.Stamp(expireAt),
	}, nil
}

// laneSpec is one lane's consumer.
type laneSpec struct {
	stream        string
	lane          string
	durable       string
	workers       int
	maxAckPending int
	backoff       []time.Duration
}

// lanes are the three lanes' consumers. The bulk lane has the most
// workers, so a campaign goes out fast, but its own consumer: the OTP
// lane's few workers never wait behind it.
func (s *Service) lanes() []laneSpec {
	return []laneSpec{
		{s.CommandStream().Name, LaneOTP, otpConsumer, otpWorkers, otpMaxAckPending, otpBackoff()},
		{s.QueueStream().Name, LaneNormal, "notification-normal", 4, 64, s.cfg.retrySchedule()},
		{s.QueueStream().Name, LaneBulk, "notification-bulk", 8, 256, s.cfg.retrySchedule()},
	}
}

// consumeLanes starts the lanes' workers for the channels that have a
// provider; stop ends them. Commands of a channel without one wait.
func (s *Service) consumeLanes(ctx context.Context) (stop func(), err error) {
	var stops []func()
	stopAll := func() {
		for _, f := range stops {
			f()
		}
	}
	for _, l := range s.lanes() {
		var filter []string
		if s.sms != nil {
			filter = append(filter, CommandSubjectPrefix+l.lane+".sms")
		}
		if s.email != nil && l.lane != LaneOTP {
			filter = append(filter, CommandSubjectPrefix+l.lane+".email")
		}
		if len(filter) == 0 {
			continue
		}
		cfg := events.ConsumerConfig{
			Stream:         l.stream,
			Durable:        l.durable,
			FilterSubjects: filter,
			MaxAckPending:  l.maxAckPending,
			MaxDeliver:     otpMaxDeliver,
			Backoff:        l.backoff,
		}
		for range l.workers {
			f, err := s.Bus.Consume(ctx, cfg, s.commandHandler(l.lane))
			if err != nil {
				stopAll()
				return nil, fmt.Errorf("notification: %s lane: %w", l.lane, err)
			}
			stops = append(stops, f)
		}
		s.Logger.Info("notification: consuming a lane", slog.String("lane", l.lane), slog.Any("subjects", filter))
	}
	if len(stops) == 0 {
		s.Logger.Info("notification: no provider configured; commands wait in the work queue")
	}
	return stopAll, nil
}

// commandHandler handles the SendSms and SendEmail commands of one lane.
func (s *Service) commandHandler(lane string) events.Handler {
	return func(ctx context.Context, ev events.Event) error {
		if ev.Type == SendEmailType {
			return s.handleSendEmail(ctx, ev, lane)
		}
		return s.handleSendSMS(ctx, ev, lane)
	}
}

// handleSendSMS records the command once (ProcessOnce on its event id, the
// row and its status event in one transaction), then sends it unless a
// previous delivery already did. A command the API wrote together with its
// row (normal and bulk lanes) finds that row and sends its body. See the
// service documentation for what happens when the process dies mid-send.
func (s *Service) handleSendSMS(ctx context.Context, ev events.Event, lane string) error {
	log := s.Logger.With(slog.String("event_id", ev.ID), slog.String("lane", lane))
	if s.sms == nil {
		return errors.New("notification: no SMS provider")
	}
	if n, err := getNotification(ctx, s.DB, "event_id", ev.ID); err == nil && n.Lane != LaneOTP {
		// The API's row holds the text to send (client templates have no
		// secrets); an OTP row's body is redacted, so OTPs render again.
		return s.deliver(ctx, log.With(slog.String("notification_id", n.ID)), n, s.smsSender(n, n.Body))
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	var cmd eventsv1.SendSms
	if err := ev.UnmarshalData(&cmd); err != nil {
		log.Warn("notification: SMS command does not decode; dropped")
		return events.Permanent(err)
	}
	req, err := s.prepareSMS(ev, &cmd, lane)
	if err != nil {
		log.Warn("notification: invalid SMS command; dropped", slog.String("err", err.Error()))
		return events.Permanent(err)
	}
	n, err := s.recordSMS(ctx, ev, req)
	if err != nil {
		return err
	}
	return s.deliver(ctx, log.With(slog.String("notification_id", n.ID)), n, s.smsSender(n, req.send))
}

// handleSendEmail sends the e-mail the API recorded with the command.
// E-mail commands come only from the API, which writes the row first.
func (s *Service) handleSendEmail(ctx context.Context, ev events.Event, lane string) error {
	log := s.Logger.With(slog.String("event_id", ev.ID), slog.String("lane", lane))
	if s.email == nil {
		return errors.New("notification: no e-mail provider")
	}
	n, err := getNotification(ctx, s.DB, "event_id", ev.ID)
	if errors.Is(err, ErrNotFound) {
		log.Warn("notification: e-mail command without a notification; dropped")
		return events.Permanent(err)
	}
	if err != nil {
		return err
	}
	return s.deliver(ctx, log.With(slog.String("notification_id", n.ID)), n, s.emailSender(n))
}

// sender is one channel's provider as deliver sees it.
type sender struct {
	name             string
	idempotent       bool
	deliversOnSubmit bool
	send             func(ctx context.Context) (string, error)
}

// smsSender sends n with the text body (secrets included).
func (s *Service) smsSender(n Notification, body string) sender {
	return sender{
		name: s.sms.Name(), idempotent: isIdempotent(s.sms), deliversOnSubmit: deliversOnSubmit(s.sms),
		send: func(ctx context.Context) (string, error) {
			return s.sms.SendSMS(ctx, SMS{To: n.Recipient, Body: body, Encoding: n.Encoding, Segments: n.Segments, Reference: n.ID,
				Urgent: n.Lane == LaneOTP})
		},
	}
}

// emailSender sends n's rendered e-mail.
func (s *Service) emailSender(n Notification) sender {
	return sender{
		name: s.email.Name(), idempotent: isIdempotent(s.email), deliversOnSubmit: deliversOnSubmit(s.email),
		send: func(ctx context.Context) (string, error) {
			id, err := s.email.SendEmail(ctx, Email{To: n.Recipient, Subject: n.Subject, Text: n.Body, HTML: n.HTML, Language: n.Language, Reference: n.ID})
			s.noteEmailSend(err)
			return id, err
		},
	}
}

// recordSMS writes the notification row for the command, or finds the one
// an earlier delivery wrote.
func (s *Service) recordSMS(ctx context.Context, ev events.Event, req smsRequest) (Notification, error) {
	now := s.nowUTC()
	id, err := store.NewIDFrom(s.Rand, "ntf_")
	if err != nil {
		return Notification{}, err
	}
	n := Notification{
		ID: id, EventID: ev.ID, CommandID: req.cmd.GetCommandId(), ClientID: req.cmd.GetClientId(),
		Reference: req.cmd.GetReference(), Channel: ChannelSMS, Lane: req.lane,
		TemplateID: req.cmd.GetTemplateId(), Language: req.language, Recipient: req.cmd.GetPhoneNumber(),
		Body: req.stored, Encoding: req.length.Encoding, Segments: req.length.Segments,
		Status: StatusCreated, submission: submissionNone,
		ExpireAt: req.expireAt, CreatedAt: now, UpdatedAt: now,
	}
	if !now.Before(req.expireAt) {
		// Never sent late: record it as failed, so the client can see why.
		n.Status, n.FailureReason, n.CompletedAt = StatusTechnicalFailure, ReasonExpired, now
	}
	applied, err := events.ProcessOnce(ctx, s.DB, otpConsumer, ev.ID, func(tx *sql.Tx) error {
		if err := insertNotification(ctx, tx, n); err != nil {
			return err
		}
		return s.enqueueStatus(ctx, tx, n)
	})
	if err != nil {
		return Notification{}, fmt.Errorf("notification: record command %s: %w", ev.ID, err)
	}
	if applied {
		s.noteAccepted(n)
		s.Relay.Kick()
		return n, nil
	}
	n, err = getNotification(ctx, s.DB, "event_id", ev.ID)
	if err != nil {
		return Notification{}, fmt.Errorf("notification: command %s was processed: %w", ev.ID, err)
	}
	return n, nil
}

// deliver hands n to the provider unless that already happened or must not
// happen, and records the outcome.
//
// With a provider that cannot deduplicate, the send is bracketed by two
// commits: submission goes none → in_flight (committed before the
// provider is called) and in_flight → accepted with the provider's id
// after. A redelivery that finds in_flight cannot know whether the
// provider got the message, so it records
// technical-failure/outcome-unknown and does not send: for a one-time
// code, a second SMS costs money and confuses, while a lost one costs the
// citizen a resend. A provider that deduplicates by reference
// (IdempotentSMSProvider) needs no in_flight mark, since sending again
// after a crash gets the first message: the claim (sending, the attempt
// counted) and the outcome are written in one commit after its answer.
func (s *Service) deliver(ctx context.Context, log *slog.Logger, n Notification, snd sender) error {
	if n.final() || n.submission == submissionAccepted {
		return nil
	}
	now := s.nowUTC()
	switch {
	case n.submission == submissionInFlight && !snd.idempotent:
		log.Warn("notification: an earlier send was interrupted; not sending again", slog.String("provider", snd.name))
		return s.fail(ctx, n, StatusTechnicalFailure, ReasonOutcomeUnknown)
	case !now.Before(n.ExpireAt):
		log.Info("notification: message expired before it could be sent")
		return s.fail(ctx, n, StatusTechnicalFailure, ReasonExpired)
	case n.Attempts >= s.cfg.MaxAttempts:
		log.Warn("notification: send attempts exhausted", slog.Int("attempts", n.Attempts))
		return s.fail(ctx, n, StatusTechnicalFailure, ReasonAttemptsExhausted)
	}

	// Claim the send: committed first unless the provider deduplicates,
	// else written with the outcome (record).
	claimed := n
	claimed.submission, claimed.Attempts, claimed.UpdatedAt = submissionInFlight, n.Attempts+1, now
	claimed.Status, claimed.Provider = StatusSending, snd.name
	read, unwritten := n, []Notification{claimed}
	if !snd.idempotent {
		if err := s.transition(ctx, n, claimed); err != nil {
			return err
		}
		read, unwritten = claimed, nil
	}
	record := func(ctx context.Context, steps ...Notification) error {
		return s.transition(ctx, read, append(unwritten, steps...)...)
	}

	pid, sendErr := snd.send(ctx)

	// Record the outcome even if ctx ended meanwhile (shutdown): a message
	// the provider took must not be left looking unsent.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now = s.nowUTC()
	next := claimed
	next.UpdatedAt = now
	switch {
	case sendErr == nil:
		next.submission, next.ProviderMessageID, next.SentAt = submissionAccepted, pid, now
		if snd.deliversOnSubmit {
			next.Status, next.CompletedAt = StatusDelivered, now
		}
		if err := record(bctx, next); err != nil {
			return err
		}
		// Under the trace of the request that caused it (the command's
		// event carries it): no recipient, no text.
		log.InfoContext(bctx, "notification: message sent", slog.String("provider", snd.name), slog.String("status", next.Status),
			slog.Int("segments", n.Segments), slog.String("encoding", string(n.Encoding)), slog.Int("attempt", next.Attempts))
		if !snd.deliversOnSubmit {
			// A receipt may have come before the ids were recorded.
			return s.settleReceipts(bctx, next.ID)
		}
		return nil
	case errors.Is(sendErr, ErrPermanentSend):
		log.Warn("notification: provider refused the message", slog.String("provider", snd.name))
		return record(bctx, s.failed(claimed, StatusPermanentFailure, ReasonProviderRefused))
	case errors.Is(sendErr, ErrOutcomeUnknown) && !snd.idempotent:
		// The provider may have it (a connection lost after submit_sm,
		// before its response): at most once, as for an interrupted send.
		log.Warn("notification: the provider's answer was lost; not sending again", slog.String("provider", snd.name))
		return record(bctx, s.failed(claimed, StatusTechnicalFailure, ReasonOutcomeUnknown))
	default:
		// Not taken: release the claim so the redelivery sends it. The
		// public status stays sending; it never goes backwards. With the
		// last attempt spent it fails in the same commit.
		next.submission = submissionNone
		if next.Attempts >= s.cfg.MaxAttempts {
			log.Warn("notification: send attempts exhausted", slog.Int("attempts", next.Attempts))
			return record(bctx, next, s.failed(next, StatusTechnicalFailure, ReasonAttemptsExhausted))
		}
		if err := record(bctx, next); err != nil {
			return err
		}
		return fmt.Errorf("notification: send %s (attempt %d) through %s: %w", n.ID, next.Attempts, snd.name, sendErr)
	}
}

// fail moves n to a final failure status.
func (s *Service) fail(ctx context.Context, n Notification, status, reason string) error {
	return s.transition(ctx, n, s.failed(n, status, reason))
}

// failed is n in a final failure status.
func (s *Service) failed(n Notification, status, reason string) Notification {
	next := n
	next.Status, next.FailureReason = status, reason
	next.UpdatedAt = s.nowUTC()
	next.CompletedAt = next.UpdatedAt
	return next
}

// errConcurrentChange means another handler changed the row first; the
// command is redelivered and looks again.
var errConcurrentChange = errors.New("notification: changed concurrently")

// transition moves the row from what was read (from) through steps, in
// one transaction: the row gets the last step, written only if it is
// still as read, and each step in between has its effects (parts and
// metering once submitted, bulk counters, a status event when the status
// changes), so a status history written in one commit is the same as one
// written step by step.
func (s *Service) transition(ctx context.Context, from Notification, steps ...Notification) error {
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return s.writeTransition(ctx, tx, from, steps...) })
	if err != nil {
		return fmt.Errorf("notification: %s: %w", from.ID, err)
	}
	s.transitioned(from, steps...)
	return nil
}

// writeTransition is transition's transaction; errConcurrentChange when
// the row is no longer as read.
func (s *Service) writeTransition(ctx context.Context, tx *sql.Tx, from Notification, steps ...Notification) error {
	if len(steps) == 0 {
		return nil
	}
	ok, err := updateNotification(ctx, tx, steps[len(steps)-1], from.Status, from.submission, from.Attempts)
	if err != nil {
		return err
	}
	if !ok {
		return errConcurrentChange
	}
	prev := from
	for _, next := range steps {
		if prev.submission != submissionAccepted && next.submission == submissionAccepted {
			if err := recordParts(ctx, tx, next); err != nil {
				return err
			}
			if err := meter(ctx, tx, next); err != nil {
				return err
			}
		}
		if err := addBulkCounters(ctx, tx, next.BulkJobID, next.ID, bulkCounters(prev, next)); err != nil {
			return err
		}
		if next.Status != prev.Status {
			if err := s.enqueueStatus(ctx, tx, next); err != nil {
				return err
			}
		}
		prev = next
	}
	return nil
}

// transitioned is what follows a committed transition: metrics, and
// kicks to the bulk feeder and the relay.
func (s *Service) transitioned(from Notification, steps ...Notification) {
	prev, announce := from, false
	for _, next := range steps {
		s.noteTransition(prev, next)
		if next.BulkJobID != "" && prev.Status == StatusCreated {
			// Room in the job's window: the feeder may queue more.
			s.kickFeeder()
		}
		announce = announce || next.Status != prev.Status
		prev = next
	}
	if announce {
		s.Relay.Kick()
	}
}

// enqueueStatus writes n's NotificationStatusChanged event to the outbox,
// and again on the outcome subject when the status is final.
func (s *Service) enqueueStatus(ctx context.Context, tx *sql.Tx, n Notification) error {
	if err := s.enqueueStatusEvent(ctx, tx, n, SubjectStatusChanged, StatusChangedType); err != nil {
		return err
	}
	if subject, typ, ok := outcomeSubject(n.Status); ok {
		if err := s.enqueueStatusEvent(ctx, tx, n, subject, typ); err != nil {
			return err
		}
	}
	return s.enqueueCallback(ctx, tx, n)
}

// enqueueStatusEvent writes n's status as an event of type typ on subject:
// every subject carries the same NotificationStatusChanged body.
func (s *Service) enqueueStatusEvent(ctx context.Context, tx *sql.Tx, n Notification, subject, typ string) error {
	ev, err := s.Events.New(typ, &eventsv1.NotificationStatusChanged{
		NotificationId: n.ID, ClientId: n.ClientID, Reference: n.Reference, Channel: n.Channel,
		Status: n.Status, Segments: int32(n.Segments), Time: timestamppb.New(n.UpdatedAt),
	})
	if err != nil {
		return err
	}
	ev.Subject = n.ID
	return events.Enqueue(ctx, tx, subject, ev)
}

// outcomeSubject is where a final status is announced besides
// SubjectStatusChanged.
func outcomeSubject(status string) (subject, typ string, ok bool) {
	switch status {
	case StatusDelivered:
		return SubjectDelivered, DeliveredType, true
	case StatusPermanentFailure, StatusTemporaryFailure, StatusTechnicalFailure:
		return SubjectFailed, FailedType, true
	}
	return "", "", false
}

// isIdempotent reports whether p deduplicates sends by reference.
func isIdempotent(p any) bool {
	ip, ok := p.(interface{ IdempotentByReference() bool })
	return ok && ip.IdempotentByReference()
}

// deliversOnSubmit reports whether a message p accepts counts as
// delivered (the dev inbox), rather than waiting for a receipt.
func deliversOnSubmit(p any) bool {
	d, ok := p.(interface{ DeliveredOnSubmit() bool })
	return ok && d.DeliveredOnSubmit()
}

// nowUTC is the clock in UTC at the precision both engines keep.
func (s *Service) nowUTC() time.Time {
	return store.Stamp(s.Now())
}
