package notification

import (
	"context"
	"errors"
	"fmt"

	"github.com/tamkeen/tamkeen/libs/store"
)

// SMS is one message as a provider receives it.
type SMS struct {
	// To is the recipient in E.164 form, e.g. +970599000001.
	To string
	// Body is the rendered text, secrets included.
	Body string
	// Encoding and Segments are as MeasureSMS computed them.
	Encoding Encoding
	Segments int
	// Reference is the notification id: unique per message and stable
	// across retries, so providers that can use it to refuse a second
	// submission do so.
	Reference string
	// Urgent marks an OTP-lane message: a provider that queues sends
	// (SMPP's window) lets it pass the queued bulk ones.
	Urgent bool
}

// SMSProvider hands SMS to whatever delivers them: an operator's SMSC over
// SMPP, an HTTP gateway, or the dev inbox.
type SMSProvider interface {
	// Name identifies the provider in the notifications table and logs.
	Name() string
	// SendSMS submits m and returns the provider's id for it. An error
	// wrapping ErrPermanentSend means retrying cannot help (the number is
	// refused); any other error is retried.
	SendSMS(ctx context.Context, m SMS) (providerMessageID string, err error)
}

// IdempotentSMSProvider is an SMSProvider that sends a message at most once
// per SMS.Reference however often SendSMS is called with it. The OTP lane
// retries a send whose outcome it does not know only through such a
// provider (see the service documentation).
type IdempotentSMSProvider interface {
	SMSProvider
	// IdempotentByReference reports that SendSMS deduplicates by Reference.
	IdempotentByReference() bool
}

// ErrPermanentSend marks a provider error that retrying cannot fix.
var ErrPermanentSend = errors.New("notification: provider refused the message permanently")

// Provider names accepted by Config.SMSProvider.
const (
	// ProviderNone leaves SMS commands waiting in their work queue.
	ProviderNone = "none"
	// ProviderDevInbox writes messages to the dev inbox (dev mode only).
	ProviderDevInbox = "devinbox"
)

// devInboxWriter is what the SMS and e-mail dev inbox providers share:
// their name, their promises, and writing a message under "dev_" + its
// reference.
type devInboxWriter struct {
	inbox *DevInbox
}

// Name is "devinbox".
func (p devInboxWriter) Name() string { return ProviderDevInbox }

// IdempotentByReference is true: the inbox keys a message by its
// reference, so a second submission finds the first.
func (p devInboxWriter) IdempotentByReference() bool { return true }

// DeliveredOnSubmit is true: a message in the inbox has arrived.
func (p devInboxWriter) DeliveredOnSubmit() bool { return true }

// write stores m (its ID left empty) in the inbox under "dev_" +
// reference and returns that id; a message already there is a success.
func (p devInboxWriter) write(ctx context.Context, reference string, m InboxMessage) (string, error) {
	if reference == "" {
		return "", fmt.Errorf("%w: dev inbox: the message has no reference", ErrPermanentSend)
	}
	m.ID = "dev_" + reference
	if _, err := p.inbox.Deliver(ctx, m); err != nil && !store.IsUniqueViolation(err) {
		return "", err
	}
	return m.ID, nil
}

// DevInboxProvider "sends" SMS by writing them to the dev inbox, where
// developers and end-to-end tests read them at GET /dev/inbox. Writing is
// delivery, so a message it accepts is delivered.
type DevInboxProvider struct {
	devInboxWriter
}

// NewDevInboxProvider returns the provider writing to inbox.
func NewDevInboxProvider(inbox *DevInbox) *DevInboxProvider {
	return &DevInboxProvider{devInboxWriter{inbox: inbox}}
}

// SendSMS stores m in the inbox under "dev_" + its reference.
func (p *DevInboxProvider) SendSMS(ctx context.Context, m SMS) (string, error) {
	return p.write(ctx, m.Reference, InboxMessage{Channel: ChannelSMS, To: m.To, Body: m.Body})
}

// ErrOutcomeUnknown marks a provider error after which nobody knows
// whether the message went out: the SMPP connection broke after submit_sm
// and before its response. The lanes do not send such a message again
// through a provider that cannot deduplicate (technical-failure,
// outcome-unknown): at most once, as the service documentation explains.
var ErrOutcomeUnknown = errors.New("notification: the provider's answer was lost")

// More provider names: Config.SMSProvider smpp and http, and
// Config.EmailProvider smtp.
const (
	// ProviderSMPP sends SMS to an operator's SMSC over SMPP 3.4.
	ProviderSMPP = "smpp"
	// ProviderHTTP sends SMS through a generic HTTP SMS gateway.
	ProviderHTTP = "http"
	// ProviderSMTP sends e-mail to an SMTP relay.
	ProviderSMTP = "smtp"
)

// Email is one e-mail as a provider receives it.
type Email struct {
	// To is the recipient's address.
	To string
	// Subject is the rendered subject (any language; providers encode it).
	Subject string
	// Text and HTML are the plain-text and HTML parts.
	Text string
	HTML string
	// Language is "ar" or "en"; Arabic is right-to-left.
	Language string
	// Reference is the notification id, stable across retries.
	Reference string
}

// EmailProvider hands e-mail to whatever delivers it.
type EmailProvider interface {
	// Name identifies the provider in the notifications table and logs.
	Name() string
	// SendEmail sends m and returns the provider's id for it. An error
	// wrapping ErrPermanentSend means retrying cannot help.
	SendEmail(ctx context.Context, m Email) (providerMessageID string, err error)
}

// DevInboxEmailProvider writes e-mail to the dev inbox (dev mode only).
type DevInboxEmailProvider struct {
	devInboxWriter
}

// NewDevInboxEmailProvider returns the provider writing to inbox.
func NewDevInboxEmailProvider(inbox *DevInbox) *DevInboxEmailProvider {
	return &DevInboxEmailProvider{devInboxWriter{inbox: inbox}}
}

// SendEmail stores m in the inbox under "dev_" + its reference.
func (p *DevInboxEmailProvider) SendEmail(ctx context.Context, m Email) (string, error) {
	return p.write(ctx, m.Reference, InboxMessage{Channel: ChannelEmail, To: m.To, Subject: m.Subject, Body: m.Text, HTML: m.HTML})
}
