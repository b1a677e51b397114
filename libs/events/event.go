package events

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tamkeen/tamkeen/libs/store"
	"google.golang.org/protobuf/proto"
)

// CloudEvents and NATS header names used on the wire (binary content mode).
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	HeaderContentType = "content-type"
	// HeaderMsgID is JetStream's de-duplication header; it always equals ce-id.
	HeaderMsgID = nats.MsgIdHdr
)

// SpecVersion is the CloudEvents specification version Tamkeen emits.
const SpecVersion = "1.0"

// ContentTypeProtobuf is the data content type of protobuf payloads.
const ContentTypeProtobuf = "application/protobuf"

// IDPrefix starts every event id made by NewEvent and Factory.New.
const IDPrefix = "evt_"

// ErrMalformed marks a message or event that lacks required CloudEvents
// attributes or carries unparsable ones. Consumers terminate such messages
// instead of redelivering them.
var ErrMalformed = errors.New("events: malformed event")

// Event is one CloudEvent: the attributes Tamkeen uses and an opaque payload
// (normally a marshalled protobuf message).
type Event struct {
	// ID is unique per event (per source); it doubles as the JetStream
	// Nats-Msg-Id, so publishing the same event twice stores it once.
	ID string
	// Type names what happened, e.g. "tamkeen.payment.succeeded.v1".
	Type string
	// Source names the producer, e.g. "tamkeen/payment".
	Source string
	// Subject optionally names the resource the event is about, e.g. a
	// payment id. It is not the NATS subject.
	Subject string
	// DataContentType is the media type of Data, e.g. application/protobuf.
	DataContentType string
	// Time is when the event happened, in UTC.
	Time time.Time
	// Data is the payload.
	Data []byte
}

// Validate reports whether the event carries the attributes every Tamkeen
// event must have; the error wraps ErrMalformed.
func (e Event) Validate() error {
	var missing []string
	if e.ID == "" {
		missing = append(missing, "id")
	}
	if e.Type == "" {
		missing = append(missing, "type")
	}
	if e.Source == "" {
		missing = append(missing, "source")
	}
	if e.Time.IsZero() {
		missing = append(missing, "time")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrMalformed, strings.Join(missing, ", "))
	}
	return nil
}

// UnmarshalData decodes the payload into m. It does not check the content
// type beyond refusing an event whose declared type is not protobuf.
func (e Event) UnmarshalData(m proto.Message) error {
	if e.DataContentType != "" && !strings.HasPrefix(e.DataContentType, ContentTypeProtobuf) {
		return fmt.Errorf("%w: content type %q is not %s", ErrMalformed, e.DataContentType, ContentTypeProtobuf)
	}
	if err := proto.Unmarshal(e.Data, m); err != nil {
		return fmt.Errorf("%w: payload of event %s: %v", ErrMalformed, e.ID, err)
	}
	return nil
}

// Factory makes events for one source with an injected clock and source of
// randomness, so that tests can pin ids and times.
type Factory struct {
	// Source is the ce-source of every event made, e.g. "tamkeen/payment".
	Source string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand supplies id randomness; nil means crypto/rand.
	Rand io.Reader
}

// New builds an event of type typ whose data is msg marshalled as protobuf.
// The id is "evt_" followed by 128 random bits; the time is Now in UTC,
// truncated to microseconds so that it survives a round trip through either
// database engine unchanged.
func (f Factory) New(typ string, msg proto.Message) (Event, error) {
	data, err := proto.Marshal(msg)
	if err != nil {
		return Event{}, fmt.Errorf("events: marshal %s payload: %w", typ, err)
	}
	id, err := f.newID()
	if err != nil {
		return Event{}, err
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	ev := Event{
		ID:              id,
		Type:            typ,
		Source:          f.Source,
		DataContentType: ContentTypeProtobuf,
		Time:            store.Stamp(now()),
		Data:            data,
	}
	if err := ev.Validate(); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func (f Factory) newID() (string, error) {
	id, err := store.NewIDFrom(f.Rand, IDPrefix)
	if err != nil {
		return "", fmt.Errorf("events: event id: %w", err)
	}
	return id, nil
}

// NewEvent builds an event from source with a crypto-random id, the current
// time and msg as protobuf data. Use a Factory to inject clock and randomness.
func NewEvent(source, typ string, msg proto.Message) (Event, error) {
	return Factory{Source: source}.New(typ, msg)
}

// Subject returns the NATS subject "tamkeen.<service>.<event>".
func Subject(service, event string) string {
	return "tamkeen." + service + "." + event
}

// ServiceStream is the stream of every event a service publishes: named
// after the service in capitals ("AUTH"), on its subjects "tamkeen.<service>.>".
func ServiceStream(service string, replicas int) StreamConfig {
	return StreamConfig{Name: strings.ToUpper(service), Subjects: []string{Subject(service, ">")}, Replicas: replicas}
}

// validateSubject refuses subjects that cannot be published to.
func validateSubject(subject string) error {
	if subject == "" || strings.ContainsAny(subject, "*> \t\r\n") ||
		strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") || strings.Contains(subject, "..") {
		return fmt.Errorf("%w: %q", ErrInvalidSubject, subject)
	}
	return nil
}

// ErrInvalidSubject is returned for an empty NATS subject, one with
// wildcards or whitespace, or one with empty tokens.
var ErrInvalidSubject = errors.New("events: invalid subject")

// header renders the event's CloudEvents attributes as NATS headers and adds
// the extra headers (trace context) given.
func (e Event) header(extra map[string]string) nats.Header {
	h := nats.Header{}
	for k, v := range extra {
		h.Set(k, v)
	}
	h.Set(HeaderSpecVersion, SpecVersion)
	h.Set(HeaderID, e.ID)
	h.Set(HeaderType, e.Type)
	h.Set(HeaderSource, e.Source)
	h.Set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	if e.Subject != "" {
		h.Set(HeaderSubject, e.Subject)
	}
	if e.DataContentType != "" {
		h.Set(HeaderContentType, e.DataContentType)
	}
	h.Set(HeaderMsgID, e.ID)
	return h
}

// FromMessage decodes a NATS message in CloudEvents binary mode. Errors wrap
// ErrMalformed.
func FromMessage(h nats.Header, data []byte) (Event, error) {
	if v := h.Get(HeaderSpecVersion); v != SpecVersion {
		return Event{}, fmt.Errorf("%w: %s %q, want %q", ErrMalformed, HeaderSpecVersion, v, SpecVersion)
	}
	ev := Event{
		ID:              h.Get(HeaderID),
		Type:            h.Get(HeaderType),
		Source:          h.Get(HeaderSource),
		Subject:         h.Get(HeaderSubject),
		DataContentType: h.Get(HeaderContentType),
		Data:            data,
	}
	if ts := h.Get(HeaderTime); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return Event{}, fmt.Errorf("%w: %s %q is not RFC 3339", ErrMalformed, HeaderTime, ts)
		}
		ev.Time = t.UTC()
	}
	if err := ev.Validate(); err != nil {
		return Event{}, err
	}
	return ev, nil
}
