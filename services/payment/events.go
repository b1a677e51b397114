package payment

import (
	"context"
	"database/sql"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// The events the enabler publishes through its outbox, on subjects
// tamkeen.payment.<event> with CloudEvents type tamkeen.payment.<event>.v1.
// payment.disputed carries a tamkeen.payment.v1.Payment (events.proto has
// no PaymentDisputed message yet); its state says opened (disputed), won or
// lost.
const (
	EventSucceeded = "succeeded"
	EventFailed    = "failed"
	EventRefunded  = "refunded"
	EventDisputed  = "disputed"
	// EventExpired carries a PaymentFailed whose reason says it expired
	// unpaid (the webhooks' payment.expired).
	EventExpired = "expired"
	// EventStampIssued carries a tamkeen.payment.v1.Stamp issued by a
	// succeeded stamp order: what the signature enabler seals.
	EventStampIssued = "stamp_issued"
	// EventCollectionAnnounced, EventCollectionSettled and
	// EventCollectionFailed carry a tamkeen.events.v1.DirectDebitCollection
	// (mandate.go): a collection announced to the citizen before its due
	// date (the notification enabler texts the citizen bound to the
	// mandate at the number they verified with auth),
	// settled by the bank, or failed with its ISO 20022 reason.
	EventCollectionAnnounced = "collection_announced"
	EventCollectionSettled   = "collection_settled"
	EventCollectionFailed    = "collection_failed"
)

// enqueue writes one event about p to the outbox inside tx.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, event, subject string, msg proto.Message) error {
	ev, err := s.Events.New("tamkeen."+Name+"."+event+".v1", msg)
	if err != nil {
		return err
	}
	ev.Subject = subject
	return events.Enqueue(ctx, tx, events.Subject(Name, event), ev)
}

func (s *Service) emitSucceeded(ctx context.Context, tx *sql.Tx, p *Payment, now time.Time) error {
	return s.enqueue(ctx, tx, EventSucceeded, p.ID, &eventsv1.PaymentSucceeded{
		PaymentId: p.ID, ClientId: p.ClientID, Reference: p.Reference, Amount: p.Amount,
		Currency: string(p.Currency), CitizenId: p.CitizenID, Time: timestamppb.New(now),
		Description: p.Description, ReceiptPhoneNumber: p.Receipt.PhoneNumber,
		ReceiptEmailAddress: p.Receipt.EmailAddress, ReceiptLanguage: p.Receipt.Language,
	})
}

func (s *Service) emitFailed(ctx context.Context, tx *sql.Tx, p *Payment, reason string, now time.Time) error {
	return s.enqueue(ctx, tx, EventFailed, p.ID, &eventsv1.PaymentFailed{
		PaymentId: p.ID, ClientId: p.ClientID, Reference: p.Reference, Reason: reason, Time: timestamppb.New(now),
	})
}

func (s *Service) emitRefunded(ctx context.Context, tx *sql.Tx, p *Payment, r Refund, now time.Time) error {
	return s.enqueue(ctx, tx, EventRefunded, p.ID, &eventsv1.PaymentRefunded{
		PaymentId: p.ID, RefundId: r.ID, ClientId: p.ClientID, Reference: p.Reference, Amount: r.Amount,
		Currency: string(p.Currency), Time: timestamppb.New(now),
	})
}

func (s *Service) emitDisputed(ctx context.Context, tx *sql.Tx, p *Payment, _ string, now time.Time) error {
	msg := toProto(*p)
	msg.UpdateTime = timestamppb.New(now)
	msg.Transitions = nil
	return s.enqueue(ctx, tx, EventDisputed, p.ID, msg)
}

func (s *Service) emitExpired(ctx context.Context, tx *sql.Tx, p *Payment, reason string, now time.Time) error {
	return s.enqueue(ctx, tx, EventExpired, p.ID, &eventsv1.PaymentFailed{
		PaymentId: p.ID, ClientId: p.ClientID, Reference: p.Reference, Reason: reason, Time: timestamppb.New(now),
	})
}

func (s *Service) emitStampIssued(ctx context.Context, tx *sql.Tx, st Stamp, now time.Time) error {
	msg := stampToProto(st, now)
	return s.enqueue(ctx, tx, EventStampIssued, st.Serial, msg)
}

// emitCollection announces a change of collection c of mandate m; the
// event never carries the IBAN.
func (s *Service) emitCollection(ctx context.Context, tx *sql.Tx, event string, m Mandate, c Collection, now time.Time) error {
	return s.enqueue(ctx, tx, event, c.ID, &eventsv1.DirectDebitCollection{
		CollectionId: c.ID, MandateId: m.ID, ClientId: m.ClientID, Creditor: m.Ministry, Reference: m.Reference,
		Description: m.Description, Amount: c.Amount, Currency: string(c.Currency), DueDate: c.Due.Format(time.DateOnly),
		CitizenId: m.CitizenID, PhoneNumber: m.Notify.PhoneNumber, Language: m.Notify.language(), State: string(c.State),
		ReasonCode: c.ReasonCode, Reason: c.Reason, Time: timestamppb.New(now),
	})
}
