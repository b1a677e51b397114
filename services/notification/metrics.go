package notification

import (
	"errors"
	"log/slog"

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
	m, err := registerMetrics(s.Registerer(), s)
	if err != nil {
		s.Logger.Warn("notification: metrics not registered", slog.String("error", err.Error()))
		m, _ = registerMetrics(prometheus.NewRegistry(), s)
	}
	return m
}

func registerMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.messages, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_notification_messages_total",
		Help: "Messages by lane (otp, normal, bulk), channel (sms, email), provider and status (accepted, submitted, delivered, failed, rejected); committed only.",
	}, []string{"lane", "channel", "provider", "status"})); err != nil {
		return nil, err
	}
	if m.segments, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_notification_sms_segments_total",
		Help: "SMS segments (parts) providers took, by lane: what the operators bill.",
	}, []string{"lane"})); err != nil {
		return nil, err
	}
	if m.emailSends, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_notification_email_sends_total",
		Help: "E-mail send attempts to the provider, by outcome (sent, failed); a failed attempt is retried.",
	}, []string{"outcome"})); err != nil {
		return nil, err
	}
	for _, lane := range laneLabels() {
		m.segments.WithLabelValues(lane)
		for _, st := range []string{msgAccepted, msgSubmitted, msgDelivered, msgFailed, msgRejected} {
			m.messages.WithLabelValues(lane, ChannelSMS, s.providerName(ChannelSMS), st)
			if lane != LaneOTP {
				m.messages.WithLabelValues(lane, ChannelEmail, s.providerName(ChannelEmail), st)
			}
		}
	}
	for _, o := range []string{emailSent, emailFailed} {
		m.emailSends.WithLabelValues(o)
	}
	if p, ok := s.sms.(*SMPPProvider); ok {
		if err := registerReplacing(reg, &smppCollector{p: p,
			bound: prometheus.NewDesc("tamkeen_notification_smpp_bound",
				"1 while the SMPP session to the SMSC is bound, else 0.", []string{"provider"}, nil),
			window: prometheus.NewDesc("tamkeen_notification_smpp_window_in_use",
				"submit_sm waiting for their response (at most smpp-window).", []string{"provider"}, nil),
			throttled: prometheus.NewDesc("tamkeen_notification_smpp_throttled_total",
				"ESME_RTHROTTLED and ESME_RMSGQFUL answers from the SMSC (each pauses the senders; the message is resubmitted).", []string{"provider"}, nil),
			reconnects: prometheus.NewDesc("tamkeen_notification_smpp_reconnects_total",
				"Connection attempts after a failed one or a lost link.", []string{"provider"}, nil),
		}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// registerReplacing registers c, replacing the collector of the same
// description already there: a process hosts one notification enabler,
// so the latest one built reports its session.
func registerReplacing(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	return err
}

// smppCollector reads the SMPP provider's state and counters at scrape
// time.
type smppCollector struct {
	p                                    *SMPPProvider
	bound, window, throttled, reconnects *prometheus.Desc
}

func (c *smppCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bound
	ch <- c.window
	ch <- c.throttled
	ch <- c.reconnects
}

func (c *smppCollector) Collect(ch chan<- prometheus.Metric) {
	bound, inUse, throttled, reconnects := c.p.state()
	b := 0.0
	if bound {
		b = 1
	}
	ch <- prometheus.MustNewConstMetric(c.bound, prometheus.GaugeValue, b, ProviderSMPP)
	ch <- prometheus.MustNewConstMetric(c.window, prometheus.GaugeValue, float64(inUse), ProviderSMPP)
	ch <- prometheus.MustNewConstMetric(c.throttled, prometheus.CounterValue, float64(throttled), ProviderSMPP)
	ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(reconnects), ProviderSMPP)
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
