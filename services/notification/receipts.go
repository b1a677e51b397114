package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// PaymentReceiptTemplateID is the built-in template of the receipt the
// service sends when a payment succeeds (tamkeen.payment.succeeded names
// where it goes). Personalisation: amount, reference, description.
const PaymentReceiptTemplateID = "tamkeen:payment-receipt"

// Receipt consumption.
const (
	// receiptsConsumer is the durable consumer of payment events.
	receiptsConsumer = "notification-receipts"
	// paymentStream is the payment enabler's event stream.
	paymentStream = "PAYMENT"
	// subjectPaymentSucceeded carries eventsv1.PaymentSucceeded.
	subjectPaymentSucceeded = "tamkeen.payment.succeeded"
)

// receiptTemplates are the built-in receipt texts, per channel and
// language. The SMS fits two UCS-2 segments in Arabic for ordinary
// references and descriptions.
func receiptTemplates() map[[2]string]ClientTemplate {
	ts := []ClientTemplate{
		{Channel: ChannelSMS, Language: LangArabic,
			Body: "تمكين: تم استلام دفعتك ((amount)) عن ((description)). المرجع: ((reference)). شكراً لك."},
		{Channel: ChannelSMS, Language: LangEnglish,
			Body: "Tamkeen: we received your payment of ((amount)) for ((description)). Reference: ((reference)). Thank you."},
		{Channel: ChannelEmail, Language: LangArabic, Subject: "إيصال دفع: ((reference))",
			Body: "تم استلام دفعتك بنجاح.\n\nالمبلغ: ((amount))\nالخدمة: ((description))\nالمرجع: ((reference))\n\nاحتفظ بهذا الإيصال لسجلاتك."},
		{Channel: ChannelEmail, Language: LangEnglish, Subject: "Payment receipt: ((reference))",
			Body: "Your payment was received.\n\nAmount: ((amount))\nFor: ((description))\nReference: ((reference))\n\nKeep this receipt for your records."},
	}
	out := make(map[[2]string]ClientTemplate, len(ts))
	for _, t := range ts {
		t.ID, t.Version, t.Name = PaymentReceiptTemplateID, 1, "Payment receipt"
		out[[2]string{t.Channel, t.Language}] = t
	}
	return out
}

// currencyExponents are the ISO 4217 minor-unit exponents of the
// currencies the payment enabler takes (DESIGN.md section 3).
var currencyExponents = map[string]int{"ILS": 2, "USD": 2, "JOD": 3}

// currencyNames are how a receipt names a currency.
var currencyNames = map[string]map[string]string{
	LangArabic:  {"ILS": "شيكل", "USD": "دولار أمريكي", "JOD": "دينار أردني"},
	LangEnglish: {"ILS": "ILS", "USD": "USD", "JOD": "JOD"},
}

// formatAmount writes minor units as a decimal with the currency's exponent
// ("100.000 دينار أردني"), with integers only: never a float.
func formatAmount(minor int64, currency, lang string) string {
	exp, ok := currencyExponents[currency]
	if !ok {
		exp = 2
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	s := strconv.FormatInt(minor, 10)
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	num := s[:len(s)-exp] + "." + s[len(s)-exp:]
	name := currencyNames[lang][currency]
	if name == "" {
		name = currency
	}
	return sign + num + " " + name
}

// runReceipts consumes payment.succeeded and queues the receipts until ctx
// ends. The payment enabler declares its stream; until it has, this waits.
func (s *Service) runReceipts(ctx context.Context) {
	// It returns (nil) only when ctx ends.
	_ = s.Bus.ConsumeWhenReady(ctx, events.ConsumerConfig{
		Stream: paymentStream, Durable: receiptsConsumer,
		FilterSubjects: []string{subjectPaymentSucceeded},
	}, s.handlePaymentSucceeded, s.Logger)
}

// handlePaymentSucceeded queues the receipt(s) one payment asks for, once:
// the notification rows and their commands are written in the same
// transaction that records the event as processed.
func (s *Service) handlePaymentSucceeded(ctx context.Context, ev events.Event) error {
	var m eventsv1.PaymentSucceeded
	if err := ev.UnmarshalData(&m); err != nil {
		return events.Permanent(err)
	}
	lang := m.GetReceiptLanguage()
	if lang != LangEnglish {
		lang = LangArabic
	}
	values := map[string]string{
		"amount":      formatAmount(m.GetAmount(), m.GetCurrency(), lang),
		"reference":   m.GetReference(),
		"description": m.GetDescription(),
	}
	templates := receiptTemplates()
	var queued []Notification
	for _, to := range []struct{ channel, recipient string }{
		{ChannelSMS, m.GetReceiptPhoneNumber()},
		{ChannelEmail, m.GetReceiptEmailAddress()},
	} {
		if to.recipient == "" {
			continue
		}
		n, err := s.prepare(m.GetClientId(), templates[[2]string{to.channel, lang}], to.channel, to.recipient, values, m.GetReference())
		var fe *rpcerr.FieldError
		if errors.As(err, &fe) {
			// A receipt that cannot be rendered or addressed will not get
			// better on redelivery; the payment itself stands.
			s.Logger.Warn("notification: receipt refused", slog.String("event_id", ev.ID), slog.String("channel", to.channel), slog.String("field", fe.Field))
			continue
		}
		if err != nil {
			return events.Permanent(err)
		}
		n.Lane = LaneNormal
		queued = append(queued, n)
	}
	if len(queued) == 0 {
		return nil
	}
	applied, err := events.ProcessOnce(ctx, s.DB, receiptsConsumer, ev.ID, func(tx *sql.Tx) error {
		for i := range queued {
			if err := s.queue(ctx, tx, &queued[i], true); err != nil {
				return err
			}
		}
		// Receipts are never refused, but they count toward the
		// client's limits as its other messages do.
		return s.countLimits(ctx, tx, m.GetClientId(), queued, checkNone)
	})
	if err != nil {
		return fmt.Errorf("notification: receipt for %s: %w", m.GetPaymentId(), err)
	}
	if applied {
		s.noteAccepted(queued...)
	}
	s.Relay.Kick()
	return nil
}
