package signature

import (
	"context"
	"database/sql"
	"time"

	"github.com/tamkeen/tamkeen/libs/events"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	"google.golang.org/protobuf/proto"
)

// Events the service publishes, through the outbox, on the SIGNATURE
// stream: tamkeen.signature.credential_issued (CredentialIssued),
// tamkeen.signature.credential_revoked (CredentialRevoked) and
// tamkeen.signature.created (DocumentSigned) for every signature made.
//
// It consumes the auth enabler's tamkeen.auth.citizen_registered and
// tamkeen.auth.citizen_proofed to learn citizens' identity-proofing level
// and their identity (national ID, given and family name), which the
// events carry sealed to this service's identity key (identity.go): the
// subject of their signing certificates.

// writeWithEvent runs write and enqueues the event of the given kind
// (type tamkeen.signature.<kind>.v1 on subject tamkeen.signature.<kind>,
// about the resource named subject) in one transaction, then wakes the
// relay: a credential or signature is stored if and only if its event
// goes out.
func (s *Service) writeWithEvent(ctx context.Context, kind, subject string, msg proto.Message, write func(tx *sql.Tx) error) error {
	ev, err := s.Events.New(events.Subject(Name, kind)+".v1", msg)
	if err != nil {
		return err
	}
	ev.Subject = subject
	return s.Commit(ctx, func(tx *sql.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		return events.Enqueue(ctx, tx, events.Subject(Name, kind), ev)
	})
}

// proofingConsumer is the durable consumer name on the AUTH stream.
const proofingConsumer = "signature-proofing"

// consumeProofing records proofing levels from the auth enabler's events.
// The AUTH stream may not exist yet (the auth enabler starts it), so the
// consumer is retried until it can be created.
func (s *Service) consumeProofing(ctx context.Context) error {
	cfg := events.ConsumerConfig{
		Stream:  "AUTH",
		Durable: proofingConsumer,
		FilterSubjects: []string{
			events.Subject("auth", "citizen_registered"),
			events.Subject("auth", "citizen_proofed"),
		},
	}
	return s.Bus.ConsumeWhenReady(ctx, cfg, s.handleProofing, s.Logger)
}

// handleProofing applies one auth event once. A later citizen_registered
// never lowers a level already raised by citizen_proofed.
func (s *Service) handleProofing(ctx context.Context, ev events.Event) error {
	var citizen, level string
	var sealedIdentity []byte
	var at time.Time
	switch ev.Type {
	case "tamkeen.auth.citizen_proofed.v1":
		var m eventsv1.CitizenProofed
		if err := ev.UnmarshalData(&m); err != nil {
			return events.Permanent(err)
		}
		citizen, level, at, sealedIdentity = m.GetCitizenId(), m.GetProofingLevel(), m.GetTime().AsTime(), m.GetSealedIdentity()
	case "tamkeen.auth.citizen_registered.v1":
		var m eventsv1.CitizenRegistered
		if err := ev.UnmarshalData(&m); err != nil {
			return events.Permanent(err)
		}
		citizen, level, at, sealedIdentity = m.GetCitizenId(), m.GetProofingLevel(), m.GetTime().AsTime(), m.GetSealedIdentity()
	default:
		return nil
	}
	if citizen == "" || level == "" {
		return nil
	}
	// An identity that cannot be opened (sealed to a key this service does
	// not hold, or tampered with) is not applied, and the citizen cannot
	// get a certificate until auth publishes one that can; the proofing
	// level still is. The log names the citizen id, never the identity.
	var identity *eventsv1.CitizenIdentity
	if len(sealedIdentity) > 0 {
		id, err := s.openIdentity(citizen, sealedIdentity)
		if err != nil {
			s.Logger.ErrorContext(ctx, "identity in auth event not applied", "citizen_id", citizen, "event_id", ev.ID, "error", err)
		} else {
			identity = id
		}
	}
	_, err := events.ProcessOnce(ctx, s.DB, proofingConsumer, ev.ID, func(tx *sql.Tx) error {
		err := putProofingLevel(ctx, tx, citizen, level, at)
		if err != nil || identity == nil {
			return err
		}
		return s.storeIdentity(ctx, tx, citizen, level, identity, at)
	})
	return err
}
