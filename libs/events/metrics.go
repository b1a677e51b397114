package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Consumer outcomes, the values of the outcome label of
// tamkeen_events_consumer_handled_total: what happened to a delivered
// message.
const (
	// OutcomeOK: the handler succeeded and the message was acknowledged.
	OutcomeOK = "ok"
	// OutcomeRetry: the handler failed and the message will be redelivered.
	OutcomeRetry = "retry"
	// OutcomePermanent: the handler failed for good (ErrPermanent); the
	// message was terminated.
	OutcomePermanent = "permanent"
	// OutcomeGaveUp: the last allowed delivery failed; the message was
	// terminated (the stream's dead letter).
	OutcomeGaveUp = "gave_up"
	// OutcomeMalformed: not a CloudEvent; terminated before any handler.
	OutcomeMalformed = "malformed"
)

// Metrics are the events library's instruments on one registry: the
// outbox relays' and the consumers' of every service that registers on
// it, told apart by the service label (and consumers by durable). Every
// label value comes from configuration (service and durable names) or
// from the closed set of outcomes, never from an event. Make one with
// NewMetrics; several services in one process (`tamkeen dev`) share it.
type Metrics struct {
	reg             prometheus.Registerer
	published       *prometheus.CounterVec
	publishFailures *prometheus.CounterVec
	publishSeconds  *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	redeliveries    *prometheus.CounterVec
	handled         *prometheus.CounterVec
	handleSeconds   *prometheus.HistogramVec
}

// Metric names, for dashboards, alerts and tests.
const (
	MetricOutboxPending          = "tamkeen_events_outbox_pending"
	MetricOutboxOldestAge        = "tamkeen_events_outbox_oldest_age_seconds"
	MetricOutboxPublished        = "tamkeen_events_outbox_published_total"
	MetricOutboxPublishFailures  = "tamkeen_events_outbox_publish_failures_total"
	MetricOutboxPublishSeconds   = "tamkeen_events_outbox_publish_seconds"
	MetricConsumerDeliveries     = "tamkeen_events_consumer_deliveries_total"
	MetricConsumerRedeliveries   = "tamkeen_events_consumer_redeliveries_total"
	MetricConsumerHandled        = "tamkeen_events_consumer_handled_total"
	MetricConsumerHandlerSeconds = "tamkeen_events_consumer_handling_seconds"
)

// NewMetrics registers the library's collectors on reg, or reuses those
// already there (another service of the same process registered them). A
// nil reg gets a registry of its own that nobody scrapes, so that a kit
// built by hand still works.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	svc := []string{"service"}
	cons := []string{"service", "durable"}
	in := telemetry.NewInstruments(reg)
	m := &Metrics{
		reg:             reg,
		published:       in.CounterVec(MetricOutboxPublished, "Outbox events the relay published to JetStream.", svc),
		publishFailures: in.CounterVec(MetricOutboxPublishFailures, "Outbox publishes that failed (the event stays in the outbox and is retried).", svc),
		publishSeconds: in.HistogramVec(MetricOutboxPublishSeconds, "Time from handing an outbox event to JetStream to its acknowledgement, in seconds.",
			prometheus.ExponentialBuckets(0.0005, 2, 14), svc), // 0.5 ms … 4 s
		deliveries:   in.CounterVec(MetricConsumerDeliveries, "Messages delivered to a durable consumer, redeliveries included.", cons),
		redeliveries: in.CounterVec(MetricConsumerRedeliveries, "Deliveries of a message JetStream had delivered before (NumDelivered > 1).", cons),
		handled: in.CounterVec(MetricConsumerHandled, "Delivered messages by outcome: ok, retry, permanent, gave_up (terminated after the last delivery) or malformed.",
			[]string{"service", "durable", "outcome"}),
		handleSeconds: in.HistogramVec(MetricConsumerHandlerSeconds, "Time a consumer's handler took for one delivery, in seconds.",
			prometheus.ExponentialBuckets(0.001, 2, 14), cons), // 1 ms … 8 s
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// outboxScrapeTimeout bounds the query a scrape runs on the outbox.
const outboxScrapeTimeout = 2 * time.Second

// newOutboxCollector reports a service's outbox at scrape time: rows
// waiting and the age of the oldest. Both are answered from the outbox's
// indexes on published_at (outbox_pending, outbox_published_at; checked
// with EXPLAIN on both engines), so a scrape costs in proportion to the
// backlog, never to the table. It reports nothing when the database does
// not answer.
func newOutboxCollector(db *store.DB, service string, now func() time.Time, log *slog.Logger) *telemetry.ScrapeCollector {
	labels := prometheus.Labels{"service": service}
	pending := prometheus.NewDesc(MetricOutboxPending, "Outbox events not yet published.", nil, labels)
	oldest := prometheus.NewDesc(MetricOutboxOldestAge,
		"Age of the oldest outbox event not yet published, in seconds; 0 when none waits (the relay's lag).", nil, labels)
	return &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{pending, oldest}, Timeout: outboxScrapeTimeout,
		Read: func(ctx context.Context, ch chan<- prometheus.Metric) {
			n, first, err := outboxBacklog(ctx, db)
			if err != nil {
				log.Warn("events: outbox metrics unavailable", "err", err)
				return
			}
			age := 0.0
			if n > 0 {
				age = max(0, now().Sub(first).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(pending, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(oldest, prometheus.GaugeValue, age)
		}}
}

// outboxBacklog counts unpublished rows and returns the creation time of
// the first of them in publishing order.
func outboxBacklog(ctx context.Context, db *store.DB) (int64, time.Time, error) {
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("count pending: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var t time.Time
	err := db.QueryRowContext(ctx, `SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1`).Scan(store.ScanTime(&t))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil // published between the two statements
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("oldest pending: %w", err)
	}
	return n, t, nil
}

// relayMetrics are one relay's instruments, with its service label bound.
type relayMetrics struct {
	published, failures prometheus.Counter
	seconds             prometheus.Observer
}

// consumerMetrics are one consumer's instruments, with its labels bound.
type consumerMetrics struct {
	deliveries, redeliveries prometheus.Counter
	seconds                  prometheus.Observer
	handled                  *prometheus.CounterVec
	service, durable         string
}

func (m *Metrics) consumer(service, durable string) *consumerMetrics {
	if m == nil {
		return nil
	}
	return &consumerMetrics{
		deliveries:   m.deliveries.WithLabelValues(service, durable),
		redeliveries: m.redeliveries.WithLabelValues(service, durable),
		seconds:      m.handleSeconds.WithLabelValues(service, durable),
		handled:      m.handled,
		service:      service, durable: durable,
	}
}

func (c *consumerMetrics) delivered(n uint64) {
	if c == nil {
		return
	}
	c.deliveries.Inc()
	if n > 1 {
		c.redeliveries.Inc()
	}
}

func (c *consumerMetrics) done(outcome string, took time.Duration) {
	if c == nil {
		return
	}
	if outcome != OutcomeMalformed {
		c.seconds.Observe(took.Seconds())
	}
	c.handled.WithLabelValues(c.service, c.durable, outcome).Inc()
}

// relay binds the relay instruments of service and registers the
// collector of db's outbox under it, replacing the collector an earlier
// relay of the same service registered (a process runs one relay per
// service; the latest one's database is the one to report).
func (m *Metrics) relay(db *store.DB, service string, now func() time.Time, log *slog.Logger) *relayMetrics {
	if m == nil {
		return nil
	}
	if err := telemetry.RegisterReplacing(m.reg, newOutboxCollector(db, service, now, log)); err != nil {
		log.Warn("events: outbox metrics not registered", "service", service, "err", err)
	}
	return &relayMetrics{
		published: m.published.WithLabelValues(service),
		failures:  m.publishFailures.WithLabelValues(service),
		seconds:   m.publishSeconds.WithLabelValues(service),
	}
}

func (r *relayMetrics) publishedOne(took time.Duration) {
	if r == nil {
		return
	}
	r.published.Inc()
	r.seconds.Observe(took.Seconds())
}

func (r *relayMetrics) failed() {
	if r == nil {
		return
	}
	r.failures.Inc()
}
