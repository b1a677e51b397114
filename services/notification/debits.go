package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

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

	subjectCollectionAnnounced = "tamkeen.payment.collection_announced"
	subjectCollectionFailed    = "tamkeen.payment.collection_failed"
	subjectCollectionSettled   = "tamkeen.payment.collection_settled"
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
	_ = events.ConsumeEvent(ctx, s.Bus, "auth", "citizen_phone_verified", phonesConsumer, s.handlePhoneVerified, s.Logger)
}

// handlePhoneVerified records a citizen's verified number; a later
// verification replaces an earlier one, an older one (redelivered out of
// order) does not.
func (s *Service) handlePhoneVerified(ctx context.Context, ev events.Event, m *eventsv1.CitizenPhoneVerified) error {
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

// runDebits texts the citizens about their collections, and tells the
// ministries' webhook endpoints how they ended, until ctx ends.
func (s *Service) runDebits(ctx context.Context) {
	_ = s.Bus.ConsumeWhenReady(ctx, events.ConsumerConfig{
		Stream: paymentStream, Durable: debitsConsumer,
		FilterSubjects: []string{subjectCollectionAnnounced, subjectCollectionFailed, subjectCollectionSettled},
	}, s.handleCollection, s.Logger)
}

// handleCollection queues what one collection event asks for, once: the
// citizen's SMS (announced, failed) and the webhook deliveries to the
// ministry (settled, failed) are written in the transaction that records
// the event as processed, so a redelivery sends nothing more.
func (s *Service) handleCollection(ctx context.Context, ev events.Event) error {
	var m eventsv1.DirectDebitCollection
	if err := ev.UnmarshalData(&m); err != nil {
		return events.Permanent(err)
	}
	var hook string
	switch m.GetState() {
	case "settled":
		hook = WebhookCollectionSettled
	case "failed":
		hook = WebhookCollectionFailed
	case "announced":
	default:
		return nil
	}
	sms, err := s.collectionSMS(ctx, ev, &m)
	if err != nil {
		return err
	}
	if sms == nil && (hook == "" || m.GetClientId() == "") {
		return nil
	}
	applied, err := events.ProcessOnce(ctx, s.DB, debitsConsumer, ev.ID, func(tx *sql.Tx) error {
		if hook != "" && m.GetClientId() != "" {
			if err := s.enqueueWebhook(ctx, tx, m.GetClientId(), ev.ID, hook, ev.Time, collectionWebhookData(&m)); err != nil {
				return err
			}
		}
		if sms == nil {
			return nil
		}
		if err := s.queue(ctx, tx, sms, true); err != nil {
			return err
		}
		// Never refused (the citizen must hear of a debit), but counted
		// toward the ministry's limits as its other messages are.
		return s.countLimits(ctx, tx, m.GetClientId(), []Notification{*sms}, checkNone)
	})
	if err != nil {
		return fmt.Errorf("notification: collection %s: %w", m.GetCollectionId(), err)
	}
	if applied && sms != nil {
		s.noteAccepted(*sms)
	}
	s.Relay.Kick()
	return nil
}

// collectionSMS prepares the citizen's SMS about collection m, or nil
// when there is none to send: a settlement, no citizen, no verified
// number known, or a text that cannot be rendered (which will not render
// better on redelivery; the collection stands).
func (s *Service) collectionSMS(ctx context.Context, ev events.Event, m *eventsv1.DirectDebitCollection) (*Notification, error) {
	templateID := DebitAnnouncementTemplateID
	switch {
	case m.GetState() == "failed":
		templateID = DebitFailedTemplateID
	case m.GetState() != "announced" || m.GetCitizenId() == "":
		return nil, nil
	}
	to, err := citizenPhone(ctx, s.DB, m.GetCitizenId())
	if errors.Is(err, sql.ErrNoRows) {
		s.Logger.Warn("notification: no verified phone for a direct-debit message", slog.String("event_id", ev.ID),
			slog.String("citizen_id", m.GetCitizenId()), slog.String("collection_id", m.GetCollectionId()))
		return nil, nil
	}
	if err != nil {
		return nil, err
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
		s.Logger.Warn("notification: direct-debit message refused", slog.String("event_id", ev.ID), slog.String("field", fe.Field))
		return nil, nil
	}
	if err != nil {
		return nil, events.Permanent(err)
	}
	n.Lane = LaneNormal
	return &n, nil
}

// CollectionWebhookData is the data of a collection.* event: how a
// direct-debit collection ended. Neither the IBAN nor the citizen's phone
// number is in it.
type CollectionWebhookData struct {
	CollectionID string `json:"collection_id"`
	MandateID    string `json:"mandate_id"`
	Reference    string `json:"reference"`
	// Amount is in minor units, as a string (as the API writes int64s).
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	DueDate  string `json:"due_date"`
	// State is settled or failed; ReasonCode (ISO 20022: AM04, AC04,
	// MD01) and Reason say why a collection failed.
	State      string    `json:"state"`
	ReasonCode string    `json:"reason_code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Time       time.Time `json:"time"`
}

func collectionWebhookData(m *eventsv1.DirectDebitCollection) CollectionWebhookData {
	return CollectionWebhookData{CollectionID: m.GetCollectionId(), MandateID: m.GetMandateId(), Reference: m.GetReference(),
		Amount: strconv.FormatInt(m.GetAmount(), 10), Currency: m.GetCurrency(), DueDate: m.GetDueDate(), State: m.GetState(),
		ReasonCode: m.GetReasonCode(), Reason: m.GetReason(), Time: m.GetTime().AsTime()}
}
