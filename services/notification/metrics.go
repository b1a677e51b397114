package notification

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Message statuses as tamkeen_notification_messages_total counts them:
// the steps of a message's life that operators watch, coarser than the
// GOV.UK Notify statuses of the API.
const (
	msgAccepted  = "accepted"  // the row exists: the API took it, or a command was recorded
	msgSubmitted = "submitted" // the provider took it (submit_sm_resp, 2xx, SMTP 250)
	msgDelivered = "delivered" // a receipt said delivered (or the dev inbox stored it)
	msgFailed    = "failed"    // temporary-failure or technical-failure: not delivered
	msgRejected  = "rejected"  // permanent-failure: the provider or carrier refused it
)

// E-mail send outcomes, the outcome label of
// tamkeen_notification_email_sends_total.
const (
	emailSent   = "sent"
	emailFailed = "failed"
)

// laneLabel is the lane label of a lane: its own name (the API's lane
// parameter), "other" for a name it does not know.
func laneLabel(lane string) string {
	switch lane {
	case LaneOTP, LaneNormal, LaneBulk:
		return lane
	}
	return "other"
}

func laneLabels() []string { return []string{LaneOTP, LaneNormal, LaneBulk} }

// providerLabel is name when it is a provider this package has, else
// "other" (a provider a host passed in under another name): a label never
// takes an unbounded value.
func providerLabel(name string) string {
	switch name {
	case ProviderSMPP, ProviderHTTP, ProviderSMTP, ProviderDevInbox, ProviderNone:
		return name
	}
	return "other"
}

// statusLabel is the messages_total status a notification status counts
// under; "" for those not counted (created, sending: counted as accepted
// and submitted when they happen).
func statusLabel(status string) string {
	switch status {
	case StatusDelivered:
		return msgDelivered
	case StatusPermanentFailure:
		return msgRejected
	case StatusTemporaryFailure, StatusTechnicalFailure:
		return msgFailed
	}
	return ""
}

// metrics are the notification enabler's own instruments. Labels come
// from the closed sets above; never a phone number, address, client id
// or message id.
type metrics struct {
	messages   *prometheus.CounterVec
	segments   *prometheus.CounterVec
	emailSends *prometheus.CounterVec
}

// newMetrics registers s's instruments on its kit's registry (reusing
// those another instance registered), with the series of s's providers
// present from the start at 0, and the SMPP session's gauges when s sends
// SMS over SMPP. A registration failure is logged and s runs uncounted.
func newMetrics(s *Service) *metrics {
	return telemetry.OrUnscraped(s.Registerer(), s.Logger, "notification: metrics not registered",
		func(reg prometheus.Registerer) (*metrics, error) { return registerMetrics(reg, s) })
}

func registerMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		messages: in.CounterVec("tamkeen_notification_messages_total",
			"Messages by lane (otp, normal, bulk), channel (sms, email), provider and status (accepted, submitted, delivered, failed, rejected); committed only.",
			[]string{"lane", "channel", "provider", "status"}),
		segments: in.CounterVec("tamkeen_notification_sms_segments_total",
			"SMS segments (parts) providers took, by lane: what the operators bill.",
			[]string{"lane"}, laneLabels()),
		emailSends: in.CounterVec("tamkeen_notification_email_sends_total",
			"E-mail send attempts to the provider, by outcome (sent, failed); a failed attempt is retried.",
			[]string{"outcome"}, []string{emailSent, emailFailed}),
	}
	if p, ok := s.sms.(*SMPPProvider); ok {
		// A process hosts one notification enabler, so the latest one
		// built reports its session.
		in.Replacing(newSMPPCollector(p))
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	for _, lane := range laneLabels() {
		for _, st := range []string{msgAccepted, msgSubmitted, msgDelivered, msgFailed, msgRejected} {
			m.messages.WithLabelValues(lane, ChannelSMS, s.providerName(ChannelSMS), st)
			if lane != LaneOTP {
				m.messages.WithLabelValues(lane, ChannelEmail, s.providerName(ChannelEmail), st)
			}
		}
	}
	return m, nil
}

// newSMPPCollector reads the SMPP provider's state and counters at scrape
// time.
func newSMPPCollector(p *SMPPProvider) *telemetry.ScrapeCollector {
	provider := []string{"provider"}
	bound := prometheus.NewDesc("tamkeen_notification_smpp_bound",
		"1 while the SMPP session to the SMSC is bound, else 0.", provider, nil)
	window := prometheus.NewDesc("tamkeen_notification_smpp_window_in_use",
		"submit_sm waiting for their response (at most smpp-window).", provider, nil)
	throttled := prometheus.NewDesc("tamkeen_notification_smpp_throttled_total",
		"ESME_RTHROTTLED and ESME_RMSGQFUL answers from the SMSC (each pauses the senders; the message is resubmitted).", provider, nil)
	reconnects := prometheus.NewDesc("tamkeen_notification_smpp_reconnects_total",
		"Connection attempts after a failed one or a lost link.", provider, nil)
	return &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{bound, window, throttled, reconnects},
		Read: func(_ context.Context, ch chan<- prometheus.Metric) {
			isBound, inUse, nThrottled, nReconnects := p.state()
			b := 0.0
			if isBound {
				b = 1
			}
			ch <- prometheus.MustNewConstMetric(bound, prometheus.GaugeValue, b, ProviderSMPP)
			ch <- prometheus.MustNewConstMetric(window, prometheus.GaugeValue, float64(inUse), ProviderSMPP)
			ch <- prometheus.MustNewConstMetric(throttled, prometheus.CounterValue, float64(nThrottled), ProviderSMPP)
			ch <- prometheus.MustNewConstMetric(reconnects, prometheus.CounterValue, float64(nReconnects), ProviderSMPP)
		}}
}

// providerName is the provider label of channel's provider ("none"
// without one).
func (s *Service) providerName(channel string) string {
	switch {
	case channel == ChannelSMS && s.sms != nil:
		return providerLabel(s.sms.Name())
	case channel == ChannelEmail && s.email != nil:
		return providerLabel(s.email.Name())
	}
	return ProviderNone
}

// noteAccepted counts committed new notifications, and the failure of one
// recorded as failed at once (an OTP command that arrived expired).
func (s *Service) noteAccepted(ns ...Notification) {
	for _, n := range ns {
		s.metrics.messages.WithLabelValues(laneLabel(n.Lane), n.Channel, s.providerName(n.Channel), msgAccepted).Inc()
		if st := statusLabel(n.Status); st != "" {
			s.metrics.messages.WithLabelValues(laneLabel(n.Lane), n.Channel, s.providerName(n.Channel), st).Inc()
		}
	}
}

// noteTransition counts what a committed transition from → next did: the
// provider taking the message (with its SMS segments) and a new final
// status.
func (s *Service) noteTransition(from, next Notification) {
	lane, provider := laneLabel(next.Lane), s.providerName(next.Channel)
	if next.Provider != "" {
		provider = providerLabel(next.Provider)
	}
	if from.submission != submissionAccepted && next.submission == submissionAccepted {
		s.metrics.messages.WithLabelValues(lane, next.Channel, provider, msgSubmitted).Inc()
		if next.Channel == ChannelSMS {
			s.metrics.segments.WithLabelValues(lane).Add(float64(next.Segments))
		}
	}
	if st := statusLabel(next.Status); st != "" && next.Status != from.Status {
		s.metrics.messages.WithLabelValues(lane, next.Channel, provider, st).Inc()
	}
}

// noteEmailSend counts one attempt to hand an e-mail to the provider.
func (s *Service) noteEmailSend(err error) {
	outcome := emailSent
	if err != nil {
		outcome = emailFailed
	}
	s.metrics.emailSends.WithLabelValues(outcome).Inc()
}
