package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Direct-debit messages (issue 18.3). The payment enabler announces each
// collection of a mandate some days before its due date
// (tamkeen.payment.collection_announced) and reports one the bank refused
// (tamkeen.payment.collection_failed); this service texts the citizen the
// mandate is bound to. The number is the one the citizen verified with
// auth (tamkeen.auth.citizen_phone_verified, kept in citizen_phones),
// never one from the ministry's request: a ministry must not be able to
// send the platform's debit notices, which tell the citizen how to stop
// the debit, anywhere but to the account holder. A citizen with no
// verified number known here gets no SMS (logged by citizen id); the
// collection itself goes ahead, as the mandate allows.

// Direct-debit template ids. Personalisation: amount, ministry,
// description, due_date, mandate, reference (the collection id) and, for
// a failure, reason.
const (
	DebitAnnouncementTemplateID = "tamkeen:debit-announcement"
	DebitFailedTemplateID       = "tamkeen:debit-failed"
)

const (
	// debitsConsumer is the durable consumer of the collection events.
	debitsConsumer = "notification-debits"
	// phonesConsumer is the durable consumer of auth's phone
	// verifications.
	phonesConsumer = "notification-citizen-phones"
	// authStream is the auth enabler's event stream.
	authStream = "AUTH"

	subjectCollectionAnnounced = "tamkeen.payment.collection_announced"
	subjectCollectionFailed    = "tamkeen.payment.collection_failed"
	subjectPhoneVerified       = "tamkeen.auth.citizen_phone_verified"
)

// debitTemplates are the built-in direct-debit SMS texts, by template id
// and language.
func debitTemplates() map[[2]string]ClientTemplate {
	ts := []ClientTemplate{
		{ID: DebitAnnouncementTemplateID, Name: "Direct-debit announcement", Language: LangArabic,
			Body: "تمكين: سيُخصم ((amount)) من حسابك لصالح ((ministry)) عن ((description)) بتاريخ ((due_date)). " +
				"لإيقاف الخصم ألغِ التفويض ((mandate)) من حسابك في تمكين قبل هذا التاريخ."},
		{ID: DebitAnnouncementTemplateID, Name: "Direct-debit announcement", Language: LangEnglish,
			Body: "Tamkeen: ((amount)) will be debited for ((ministry)), ((description)), on ((due_date)). " +
				"To stop it, revoke mandate ((mandate)) in your Tamkeen account first."},
		{ID: DebitFailedTemplateID, Name: "Direct-debit failure", Language: LangArabic,
			Body: "تمكين: تعذّر خصم ((amount)) لصالح ((ministry)) بتاريخ ((due_date)): ((reason)). المرجع: ((reference))."},
		{ID: DebitFailedTemplateID, Name: "Direct-debit failure", Language: LangEnglish,
			Body: "Tamkeen: the debit of ((amount)) for ((ministry)) due ((due_date)) failed: ((reason)). Reference: ((reference))."},
	}
	out := make(map[[2]string]ClientTemplate, len(ts))
	for _, t := range ts {
		t.Channel, t.Version = ChannelSMS, 1
		out[[2]string{t.ID, t.Language}] = t
	}
	return out
}

// debitReasons are the ISO 20022 reasons a bank gives, in Arabic; the
// English text is the payment enabler's (the event's reason).
var debitReasons = map[string]string{
	"AM04": "رصيد غير كافٍ",
	"AC04": "الحساب مغلق",
	"MD01": "لا يوجد تفويض ساري",
}

// runCitizenPhones keeps the citizens' verified numbers until ctx ends.
func (s *Service) runCitizenPhones(ctx context.Context) {
	_ = s.Bus.ConsumeWhenReady(ctx, events.ConsumerConfig{
		Stream: authStream, Durable: phonesConsumer, FilterSubjects: []string{subjectPhoneVerified},
	}, s.handlePhoneVerified, s.Logger)
}

// handlePhoneVerified records a citizen's verified number; a later
// verification replaces an earlier one, an older one (redelivered out of
// order) does not.
func (s *Service) handlePhoneVerified(ctx context.Context, ev events.Event) error {
	var m eventsv1.CitizenPhoneVerified
	if err := ev.UnmarshalData(&m); err != nil {
		return events.Permanent(err)
	}
	if m.GetCitizenId() == "" || m.GetPhoneNumber() == "" {
		return nil // published before auth added the number: nothing to keep
	}
	to, err := normalizePhone("phone_number", m.GetPhoneNumber())
	if err != nil {
		s.Logger.Warn("notification: verified phone refused", slog.String("event_id", ev.ID), slog.String("citizen_id", m.GetCitizenId()))
		return nil
	}
	_, err = events.ProcessOnce(ctx, s.DB, phonesConsumer, ev.ID, func(tx *sql.Tx) error {
		return putCitizenPhone(ctx, tx, m.GetCitizenId(), to, m.GetTime().AsTime())
	})
	return err
}

// runDebits texts the citizens about their collections until ctx ends.
func (s *Service) runDebits(ctx context.Context) {
	_ = s.Bus.ConsumeWhenReady(ctx, events.ConsumerConfig{
		Stream: paymentStream, Durable: debitsConsumer,
		FilterSubjects: []string{subjectCollectionAnnounced, subjectCollectionFailed},
	}, s.handleCollection, s.Logger)
}

// handleCollection queues the SMS one collection event asks for, once: the
// notification is written in the transaction that records the event as
// processed, so a redelivery sends nothing more.
func (s *Service) handleCollection(ctx context.Context, ev events.Event) error {
	var m eventsv1.DirectDebitCollection
	if err := ev.UnmarshalData(&m); err != nil {
		return events.Permanent(err)
	}
	templateID := DebitAnnouncementTemplateID
	if m.GetState() == "failed" {
		templateID = DebitFailedTemplateID
	} else if m.GetState() != "announced" {
		return nil
	}
	if m.GetCitizenId() == "" {
		return nil
	}
	to, err := citizenPhone(ctx, s.DB, m.GetCitizenId())
	if errors.Is(err, sql.ErrNoRows) {
		s.Logger.Warn("notification: no verified phone for a direct-debit message", slog.String("event_id", ev.ID),
			slog.String("citizen_id", m.GetCitizenId()), slog.String("collection_id", m.GetCollectionId()))
		return nil
	}
	if err != nil {
		return err
	}
	lang := m.GetLanguage()
	if lang != LangEnglish {
		lang = LangArabic
	}
	reason := m.GetReason()
	if ar, ok := debitReasons[m.GetReasonCode()]; ok && lang == LangArabic {
		reason = ar
	}
	values := map[string]string{
		"amount": formatAmount(m.GetAmount(), m.GetCurrency(), lang), "ministry": m.GetCreditor(),
		"description": m.GetDescription(), "due_date": m.GetDueDate(), "mandate": m.GetMandateId(),
		"reference": m.GetCollectionId(), "reason": reason,
	}
	n, err := s.prepare(m.GetClientId(), debitTemplates()[[2]string{templateID, lang}], ChannelSMS, to, values, m.GetCollectionId())
	var fe *rpcerr.FieldError
	if errors.As(err, &fe) {
		// It will not render better on redelivery; the collection stands.
		s.Logger.Warn("notification: direct-debit message refused", slog.String("event_id", ev.ID), slog.String("field", fe.Field))
		return nil
	}
	if err != nil {
		return events.Permanent(err)
	}
	n.Lane = LaneNormal
	applied, err := events.ProcessOnce(ctx, s.DB, debitsConsumer, ev.ID, func(tx *sql.Tx) error {
		if err := s.queue(ctx, tx, &n, true); err != nil {
			return err
		}
		// Never refused (the citizen must hear of a debit), but counted
		// toward the ministry's limits as its other messages are.
		return s.countLimits(ctx, tx, m.GetClientId(), []Notification{n}, checkNone)
	})
	if err != nil {
		return fmt.Errorf("notification: direct-debit message for %s: %w", m.GetCollectionId(), err)
	}
	if applied {
		s.noteAccepted(n)
	}
	s.Relay.Kick()
	return nil
}
