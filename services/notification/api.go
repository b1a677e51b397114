package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// apiMessageLife is how long an API message may wait to be sent; one that
// could not be sent by then ends technical-failure/expired.
const apiMessageLife = 72 * time.Hour

// maxReference bounds a caller's reference.
const maxReference = 256

// SendInput is one message a client asks for.
type SendInput struct {
	// Channel is ChannelSMS or ChannelEmail.
	Channel string
	// Recipient is an E.164 phone number or an e-mail address.
	Recipient  string
	TemplateID string
	// Personalisation fills the template's ((placeholders)).
	Personalisation map[string]string
	Reference       string
	// Priority is "normal" (default) or "bulk".
	Priority string
	// IdempotencyKey, when set, makes the send safe to retry: the same key
	// and input within Config.IdempotencyTTL give the same notification.
	IdempotencyKey string
}

// fingerprint is what the send's Idempotency-Key is bound to: the input
// without the key, the priority as its lane.
func (in SendInput) fingerprint(lane string) any {
	personalisation := in.Personalisation
	if len(personalisation) == 0 {
		personalisation = nil
	}
	return struct {
		Channel, Recipient, TemplateID string
		Personalisation                map[string]string
		Reference, Lane                string
	}{in.Channel, in.Recipient, in.TemplateID, personalisation, in.Reference, lane}
}

// sendScope is the idempotency scope of a channel's sends.
func sendScope(channel string) string {
	if channel == ChannelEmail {
		return scopeSendEmail
	}
	return scopeSendSMS
}

// recipientField is the API's name of a channel's recipient.
func recipientField(channel string) string {
	if channel == ChannelEmail {
		return "email_address"
	}
	return "phone_number"
}

// checkText is the platform's display-text check (libs/textcheck: bidi
// controls, zero-width and control characters, invalid UTF-8) as this
// package's field error, or nil.
func checkText(field, s string, k textcheck.Kind) error {
	if fe := textcheck.Check(field, s, k); fe != nil {
		return &rpcerr.FieldError{Field: fe.Field, Reason: fe.Reason, Code: fe.Code, Args: fe.Args}
	}
	return nil
}

// ValidEmail reports whether s is a bare e-mail address (no display name)
// of at most 254 bytes, without the characters an address may not hold
// (net/mail takes bidi controls and zero-width characters in the local
// part).
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, "\r\n<>") {
		return false
	}
	if _, bad := textcheck.Find(s, textcheck.Address); bad {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// normalizePhone reads an SMS recipient by the platform's one rule
// (libs/phone): E.164, or a Palestinian or Israeli mobile written the
// local way (0599123456 → +970599123456, 0521234567 → +972521234567); a
// home number that is not a mobile (a landline) is refused with the
// rule's reason, anything else as not E.164.
func normalizePhone(field, s string) (string, error) {
	to, err := phone.Normalize(s)
	if err == nil {
		return to, nil
	}
	if pe := (*phone.Error)(nil); errors.As(err, &pe) && pe.NotMobile {
		return "", &rpcerr.FieldError{Field: field, Reason: pe.Reason, Code: rpcerr.FieldCode(field, pe.Code())}
	}
	return "", &rpcerr.FieldError{Field: field, Reason: "not an E.164 number (e.g. +970599000001)", Code: rpcerr.FieldCode(field, "e164")}
}

// prepare validates and renders one message of client with template t.
func (s *Service) prepare(client string, t ClientTemplate, channel, recipient string, values map[string]string, reference string) (Notification, error) {
	field := recipientField(channel)
	if err := checkText(field, recipient, textcheck.Address); err != nil {
		return Notification{}, err
	}
	if err := checkText("reference", reference, textcheck.Address); err != nil {
		return Notification{}, err
	}
	if channel == ChannelSMS {
		to, err := normalizePhone(field, recipient)
		if err != nil {
			return Notification{}, err
		}
		recipient = to
	}
	switch {
	case channel == ChannelEmail && !ValidEmail(recipient):
		return Notification{}, &rpcerr.FieldError{Field: field, Reason: "not an e-mail address", Code: rpcerr.FieldCode(field, "invalid")}
	case len(reference) > maxReference:
		return Notification{}, &rpcerr.FieldError{Field: "reference", Reason: fmt.Sprintf("longer than %d bytes", maxReference),
			Code: "reference.too_many_bytes", Args: rpcerr.ArgList(strconv.Itoa(maxReference))}
	}
	r, err := renderTemplate(t, values)
	if err != nil {
		return Notification{}, err
	}
	n := Notification{
		ClientID: client, Reference: reference, Channel: channel, TemplateID: t.ID, TemplateVersion: t.Version,
		Language: t.Language, Recipient: recipient, Body: r.Text, Subject: r.Subject, HTML: r.HTML,
		Status: StatusCreated, submission: submissionNone,
	}
	if channel == ChannelSMS {
		if r.Length.Segments > s.cfg.MaxSMSSegments {
			return Notification{}, &rpcerr.FieldError{Field: "personalisation", Reason: fmt.Sprintf("the message needs %d segments; at most %d are allowed", r.Length.Segments, s.cfg.MaxSMSSegments),
				Code: "personalisation.segments", Args: rpcerr.ArgList(strconv.Itoa(r.Length.Segments), strconv.Itoa(s.cfg.MaxSMSSegments))}
		}
		n.Encoding, n.Segments = r.Length.Encoding, r.Length.Segments
		n.Country = CallingCode(recipient)
		if !s.home[n.Country] && !s.intl[client] {
			return Notification{}, fmt.Errorf("SMS to +%s (outside the home countries) are not allowed for this client: %w", n.Country, rpcerr.ErrPermissionDenied)
		}
	}
	return n, nil
}

// laneOf maps a request's priority to its lane.
func laneOf(priority string) (string, error) {
	switch priority {
	case "", LaneNormal:
		return LaneNormal, nil
	case LaneBulk:
		return LaneBulk, nil
	}
	return "", &rpcerr.FieldError{Field: "priority", Reason: `must be "normal" or "bulk"`, Code: "priority.unsupported"}
}

// clientTemplate finds client's template for a send, as a field error.
func (s *Service) clientTemplate(ctx context.Context, client, id, channel string) (ClientTemplate, error) {
	if id == "" {
		return ClientTemplate{}, &rpcerr.FieldError{Field: "template_id", Reason: "required", Code: "template_id.required"}
	}
	t, err := s.GetTemplate(ctx, client, id, 0)
	if errors.Is(err, rpcerr.ErrNotFound) {
		return ClientTemplate{}, &rpcerr.FieldError{Field: "template_id", Reason: "no such template", Code: "template_id.unknown"}
	}
	if err != nil {
		return ClientTemplate{}, err
	}
	if t.Channel != channel {
		return ClientTemplate{}, &rpcerr.FieldError{Field: "template_id", Reason: fmt.Sprintf("is a %s template", t.Channel), Code: "template_id.channel", Args: rpcerr.ArgList(t.Channel)}
	}
	return t, nil
}

// Send validates, renders and queues one message of client: the row and
// its command are written in one transaction (the outbox), so a message
// the API accepted is never lost and never queued twice. With an
// Idempotency-Key, repeating the same send returns the same notification
// (however many arrive at once) and another send with the key fails with
// ErrIdempotencyMismatch.
func (s *Service) Send(ctx context.Context, client string, in SendInput) (Notification, error) {
	if in.Channel != ChannelSMS && in.Channel != ChannelEmail {
		return Notification{}, &rpcerr.FieldError{Field: "channel", Reason: `must be "sms" or "email"`, Code: "channel.unsupported"}
	}
	if err := checkIdempotencyKey(in.IdempotencyKey); err != nil {
		return Notification{}, err
	}
	lane, err := laneOf(in.Priority)
	if err != nil {
		return Notification{}, err
	}
	idem := newIdempotency(client, sendScope(in.Channel), in.IdempotencyKey, in.fingerprint(lane))
	if id, found, err := s.earlier(ctx, idem); err != nil || found {
		return s.sent(ctx, client, id, err)
	}
	t, err := s.clientTemplate(ctx, client, in.TemplateID, in.Channel)
	if err != nil {
		return Notification{}, err
	}
	n, err := s.prepare(client, t, in.Channel, in.Recipient, in.Personalisation, in.Reference)
	if err != nil {
		return Notification{}, err
	}
	n.Lane = lane
	if err := s.checkLimits(ctx, s.DB, client, []Notification{n}, checkSend); err != nil {
		// An identical request may have filled the limit meanwhile.
		if id, found, lerr := s.earlier(ctx, idem); lerr != nil || found {
			return s.sent(ctx, client, id, lerr)
		}
		return Notification{}, err
	}
	if n.ID, err = s.newNotificationID(); err != nil {
		return Notification{}, err
	}
	existing, err := s.claimTx(ctx, "queue", idem, n.ID, func(tx *sql.Tx) error {
		if err := s.queue(ctx, tx, &n, true); err != nil {
			return err
		}
		return s.countLimits(ctx, tx, client, []Notification{n}, checkSend)
	})
	if err != nil || existing != "" {
		return s.sent(ctx, client, existing, err)
	}
	s.noteAccepted(n)
	s.Relay.Kick()
	return n, nil
}

// sent is the answer to a send an earlier request with its
// Idempotency-Key made: notification id as it is now, or err.
func (s *Service) sent(ctx context.Context, client, id string, err error) (Notification, error) {
	if err != nil {
		return Notification{}, err
	}
	return s.GetNotification(ctx, client, id)
}

// queue completes n (its id unless set, times), inserts it and writes its
// command to the outbox in tx; announce also writes its created status
// event.
func (s *Service) queue(ctx context.Context, tx *sql.Tx, n *Notification, announce bool) error {
	id, err := n.ID, error(nil)
	if id == "" {
		if id, err = s.newNotificationID(); err != nil {
			return err
		}
	}
	now := s.nowUTC()
	n.ID, n.CommandID, n.CreatedAt, n.UpdatedAt, n.ExpireAt = id, id, now, now, now.Add(apiMessageLife)
	var ev events.Event
	if n.Channel == ChannelEmail {
		ev, err = s.Events.New(SendEmailType, &eventsv1.SendEmail{
			CommandId: id, ClientId: n.ClientID, EmailAddress: n.Recipient, TemplateId: n.TemplateID, Reference: n.Reference, Language: n.Language,
		})
	} else {
		ev, err = s.Events.New(SendSMSType, &eventsv1.SendSms{
			CommandId: id, ClientId: n.ClientID, PhoneNumber: n.Recipient, TemplateId: n.TemplateID, Reference: n.Reference, Language: n.Language,
		})
	}
	if err != nil {
		return err
	}
	ev.Subject = id
	n.EventID = ev.ID
	if err := insertNotification(ctx, tx, *n); err != nil {
		return err
	}
	if err := events.Enqueue(ctx, tx, CommandSubjectPrefix+n.Lane+"."+n.Channel, ev); err != nil {
		return err
	}
	if !announce {
		return nil
	}
	return s.enqueueStatus(ctx, tx, *n)
}

// GetNotification returns client's notification id; another client's is
// not found.
func (s *Service) GetNotification(ctx context.Context, client, id string) (Notification, error) {
	n, err := getNotification(ctx, s.DB, "id", id)
	if errors.Is(err, ErrNotFound) || (err == nil && n.ClientID != client) {
		return Notification{}, fmt.Errorf("notification %s: %w", id, rpcerr.ErrNotFound)
	}
	return n, err
}

// ListFilter selects a client's notifications.
type ListFilter struct {
	Reference, Status string
	PageSize          int
	PageToken         string
}

// knownStatus reports whether st is a notification status.
func knownStatus(st string) bool {
	switch st {
	case StatusCreated, StatusSending, StatusDelivered, StatusPermanentFailure, StatusTemporaryFailure, StatusTechnicalFailure, StatusCancelled:
		return true
	}
	return false
}

// ListNotifications returns client's notifications, newest first.
func (s *Service) ListNotifications(ctx context.Context, client string, f ListFilter) ([]Notification, string, error) {
	if f.Status != "" && !knownStatus(f.Status) {
		return nil, "", &rpcerr.FieldError{Field: "status", Reason: "not a notification status", Code: "status.unsupported"}
	}
	size := f.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	afterTime, afterID := time.Now().UTC().Add(100*365*24*time.Hour), "~"
	if f.PageToken != "" {
		t, id, ok := store.ParseKeysetToken(f.PageToken)
		if !ok {
			return nil, "", &rpcerr.FieldError{Field: "page_token", Reason: "not a token this API gave", Code: "page_token.unknown"}
		}
		afterTime, afterID = t.UTC(), id
	}
	out, err := listNotifications(ctx, s.DB, client, f.Reference, f.Status, afterTime, afterID, size+1)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, size, func(n Notification) string { return store.KeysetToken(n.CreatedAt.UTC(), n.ID) })
	return out, next, nil
}
