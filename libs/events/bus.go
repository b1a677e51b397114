package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ErrPermanent marks a handler error that redelivery cannot fix (for example
// a payload that does not decode). Consume terminates such messages instead
// of redelivering them. Wrap errors with Permanent.
var ErrPermanent = errors.New("events: permanent failure")

// Permanent wraps err so that Consume terminates the message rather than
// asking for redelivery. errors.Is(Permanent(err), ErrPermanent) and
// errors.Is(Permanent(err), err) both hold.
func Permanent(err error) error {
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// ErrInvalidConfig is returned for a stream or consumer configuration that
// lacks a required field.
var ErrInvalidConfig = errors.New("events: invalid configuration")

// Handler processes one event. It returns nil once the event's effects are
// durable (the message is then acknowledged), an error to have it redelivered
// after a back-off, or an error wrapping ErrPermanent to drop it. The context
// carries the producer's trace context.
type Handler func(ctx context.Context, ev Event) error

// BusOptions configures a Bus. The zero value is usable.
type BusOptions struct {
	// Propagator injects and extracts trace context in message headers;
	// nil means W3C Trace Context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// TracerProvider makes producer and consumer spans; nil means no spans
	// are recorded (trace context is still propagated).
	TracerProvider trace.TracerProvider
	// Logger receives consumer-side problems (malformed messages, failed
	// acks, abandoned events); nil discards them.
	Logger *slog.Logger
}

// Bus publishes and consumes CloudEvents on NATS JetStream.
type Bus struct {
	js     jetstream.JetStream
	prop   propagation.TextMapPropagator
	tracer trace.Tracer
	log    *slog.Logger
	// metrics and service, set by WithMetrics, count the deliveries of
	// the consumers this Bus starts.
	metrics *Metrics
	service string
}

// WithMetrics returns a Bus on the same connection whose consumers count
// their deliveries, redeliveries, outcomes and handling time in m under
// the label service (and durable, each consumer's name). Each service of a
// process gets its own from the shared Bus (libs/host's NewKit does it).
func (b *Bus) WithMetrics(m *Metrics, service string) *Bus {
	c := *b
	c.metrics, c.service = m, service
	return &c
}

// NewBus returns a Bus using nc. The caller keeps ownership of nc.
func NewBus(nc *nats.Conn, opts BusOptions) (*Bus, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil NATS connection", ErrInvalidConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("events: jetstream: %w", err)
	}
	b := &Bus{js: js, prop: opts.Propagator, log: opts.Logger}
	if b.prop == nil {
		b.prop = propagation.TraceContext{}
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	b.tracer = tp.Tracer("github.com/tamkeen/tamkeen/libs/events")
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return b, nil
}

// JetStream exposes the underlying JetStream context for inspection (stream
// and consumer info) and for operations the Bus does not wrap.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// StreamConfig describes the stream of one producing service.
type StreamConfig struct {
	// Name of the stream, e.g. "PAYMENT".
	Name string
	// Subjects the stream captures, e.g. "tamkeen.payment.>".
	Subjects []string
	// MaxAge bounds how long messages are kept; 0 keeps them until other
	// limits apply. Keep streams that carry secrets (OTP codes) to minutes.
	MaxAge time.Duration
	// Duplicates is the de-duplication window for Nats-Msg-Id; 0 means the
	// server default (2 minutes, or MaxAge if shorter). It must exceed the
	// longest time a relay may take to re-publish an event it already
	// published (see RelayOptions.Lease).
	Duplicates time.Duration
	// Retention is limits (the zero value; every consumer sees every event)
	// or work-queue (each message is removed once acknowledged; for command
	// streams with a single consuming service).
	Retention jetstream.RetentionPolicy
	// Storage is file (the zero value) or memory.
	Storage jetstream.StorageType
	// Replicas is the number of copies in a cluster; 0 means 1. Production
	// streams use 3.
	Replicas int
	// MaxBytes bounds the stream's size; 0 means unlimited.
	MaxBytes int64
}

// EnsureStream creates the stream or updates it to cfg.
func (b *Bus) EnsureStream(ctx context.Context, cfg StreamConfig) error {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return fmt.Errorf("%w: stream needs a name and subjects", ErrInvalidConfig)
	}
	replicas := cfg.Replicas
	if replicas == 0 {
		replicas = 1
	}
	maxBytes := cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   cfg.Subjects,
		MaxAge:     cfg.MaxAge,
		Duplicates: cfg.Duplicates,
		Retention:  cfg.Retention,
		Storage:    cfg.Storage,
		Replicas:   replicas,
		MaxBytes:   maxBytes,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("events: ensure stream %s: %w", cfg.Name, err)
	}
	return nil
}

// Publish publishes ev on subject and waits for JetStream to store it. The
// trace context of ctx travels in the message headers. Publishing an event
// whose id the stream has already seen (within its Duplicates window) is a
// success and stores nothing.
func (b *Bus) Publish(ctx context.Context, subject string, ev Event) error {
	_, err := b.publish(ctx, subject, ev)
	return err
}

// publish is Publish returning the acknowledgement.
func (b *Bus) publish(ctx context.Context, subject string, ev Event) (*jetstream.PubAck, error) {
	msg, span, err := b.message(ctx, subject, ev)
	if err != nil {
		return nil, err
	}
	defer span.End()
	ack, err := b.js.PublishMsg(ctx, msg)
	return ack, b.acked(span, ev, subject, ack, err)
}

// publishAsync sends ev without waiting for its PubAck; wait waits for it
// (at most until ctx ends) and reports the publish's outcome. Messages sent
// from one connection reach the stream in the order they were sent, so a
// relay can pipeline a batch and still publish it in order.
func (b *Bus) publishAsync(ctx context.Context, subject string, ev Event) (wait func(context.Context) error, err error) {
	msg, span, err := b.message(ctx, subject, ev)
	if err != nil {
		return nil, err
	}
	f, err := b.js.PublishMsgAsync(msg)
	if err != nil {
		span.End()
		return nil, b.acked(span, ev, subject, nil, err)
	}
	return func(ctx context.Context) error {
		defer span.End()
		select {
		case ack := <-f.Ok():
			return b.acked(span, ev, subject, ack, nil)
		case err := <-f.Err():
			return b.acked(span, ev, subject, nil, err)
		case <-ctx.Done():
			return b.acked(span, ev, subject, nil, ctx.Err())
		}
	}, nil
}

// message checks ev and builds its NATS message, with the trace context of
// a producer span started from ctx (which the caller ends).
func (b *Bus) message(ctx context.Context, subject string, ev Event) (*nats.Msg, trace.Span, error) {
	if err := validateSubject(subject); err != nil {
		return nil, nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, nil, err
	}
	ctx, span := b.tracer.Start(ctx, subject+" publish",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.message.id", ev.ID),
			attribute.String("cloudevents.event_type", ev.Type),
		))
	tc := map[string]string{}
	b.prop.Inject(ctx, propagation.MapCarrier(tc))
	return &nats.Msg{Subject: subject, Header: ev.header(tc), Data: ev.Data}, span, nil
}

// acked records a publish's outcome on its span and wraps its error.
func (b *Bus) acked(span trace.Span, ev Event, subject string, ack *jetstream.PubAck, err error) error {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return fmt.Errorf("events: publish %s to %s: %w", ev.ID, subject, err)
	}
	span.SetAttributes(attribute.Bool("messaging.nats.duplicate", ack.Duplicate))
	return nil
}

// ConsumerConfig describes a durable pull consumer.
type ConsumerConfig struct {
	// Stream the consumer reads.
	Stream string
	// Durable names the consumer; every replica of a service uses the same
	// name so that they share the work and survive restarts.
	Durable string
	// FilterSubjects limits the consumer to these subjects; empty means all
	// of the stream's subjects.
	FilterSubjects []string
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering; 0 means 30 s. Handlers that run longer are kept alive
	// with in-progress acknowledgements.
	AckWait time.Duration
	// MaxDeliver bounds delivery attempts; 0 means unlimited. When the last
	// attempt fails the message is terminated and logged at error level.
	MaxDeliver int
	// Backoff is the delay before redelivering after a handler error,
	// indexed by attempt and repeating the last value; empty means 1 s,
	// 5 s, 15 s, 30 s, then every minute.
	Backoff []time.Duration
	// MaxAckPending bounds unacknowledged messages in flight across all
	// subscribers; 0 means the server default (1000).
	MaxAckPending int
}

// defaultBackoff is the redelivery schedule after handler errors.
func defaultBackoff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}
}

const defaultAckWait = 30 * time.Second

// Consume creates or updates the durable pull consumer described by cfg and
// calls handler for each event, one at a time. Run Consume several times (in
// one process or many) with the same Durable to process in parallel.
//
// A message is acknowledged when handler returns nil, negatively
// acknowledged with a back-off delay when it returns an error, and
// terminated when it returns an error wrapping ErrPermanent or when the
// message is not a well-formed CloudEvent. A panicking handler counts as an
// error. Consumption stops when ctx is done or stop is called; stop waits
// for the handler in flight to return.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, handler Handler) (stop func(), err error) {
	if cfg.Stream == "" || cfg.Durable == "" || handler == nil {
		return nil, fmt.Errorf("%w: consumer needs a stream, a durable name and a handler", ErrInvalidConfig)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = defaultAckWait
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = defaultBackoff()
	}
	jcfg := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: cfg.MaxAckPending,
	}
	switch len(cfg.FilterSubjects) {
	case 0:
	case 1:
		jcfg.FilterSubject = cfg.FilterSubjects[0]
	default:
		jcfg.FilterSubjects = cfg.FilterSubjects
	}
	if jcfg.MaxDeliver == 0 {
		jcfg.MaxDeliver = -1
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, cfg.Stream, jcfg)
	if err != nil {
		return nil, fmt.Errorf("events: consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	log := b.log.With("stream", cfg.Stream, "consumer", cfg.Durable)
	metrics := b.metrics.consumer(b.service, cfg.Durable)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		b.handle(ctx, cfg, log, metrics, handler, msg)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		log.Debug("events: consume", "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("events: consume %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}

	var once sync.Once
	done := make(chan struct{})
	stop = func() {
		once.Do(func() {
			close(done)
			cc.Stop()
			<-cc.Closed()
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	return stop, nil
}

// handle runs handler for one message and settles the message.
func (b *Bus) handle(ctx context.Context, cfg ConsumerConfig, log *slog.Logger, m *consumerMetrics, handler Handler, msg jetstream.Msg) {
	var delivered uint64 = 1
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		delivered, seq = md.NumDelivered, md.Sequence.Stream
	}
	m.delivered(delivered)
	ev, err := FromMessage(msg.Headers(), msg.Data())
	if err != nil {
		m.done(OutcomeMalformed, 0)
		// Redelivery cannot repair a message; say what is wrong, not what it holds.
		log.Warn("events: terminating malformed message", "subject", msg.Subject(), "stream_seq", seq, "err", err)
		if err := msg.TermWithReason("malformed CloudEvent"); err != nil {
			log.Warn("events: term failed", "stream_seq", seq, "err", err)
		}
		return
	}

	hctx := b.prop.Extract(ctx, headerCarrier(msg.Headers()))
	hctx, span := b.tracer.Start(hctx, msg.Subject()+" process",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", cfg.Durable),
			attribute.String("messaging.message.id", ev.ID),
			attribute.Int64("messaging.nats.delivered", int64(delivered)),
		))
	defer span.End()

	stopProgress := keepAlive(msg, cfg.AckWait)
	start := time.Now()
	err = callHandler(hctx, handler, ev)
	took := time.Since(start)
	stopProgress()

	switch {
	case err == nil:
		m.done(OutcomeOK, took)
		if aerr := msg.Ack(); aerr != nil {
			// The event will come back; idempotent handlers absorb it.
			log.Warn("events: ack failed", "event_id", ev.ID, "err", aerr)
		}
	case errors.Is(err, ErrPermanent):
		m.done(OutcomePermanent, took)
		span.RecordError(err)
		span.SetStatus(codes.Error, "permanent failure")
		log.Error("events: handler failed permanently; event dropped", "event_id", ev.ID, "type", ev.Type, "err", err)
		_ = msg.TermWithReason("permanent handler failure")
	case cfg.MaxDeliver > 0 && delivered >= uint64(cfg.MaxDeliver):
		m.done(OutcomeGaveUp, took)
		span.RecordError(err)
		span.SetStatus(codes.Error, "gave up")
		log.Error("events: handler failed on last delivery; event abandoned", "event_id", ev.ID, "type", ev.Type, "delivered", delivered, "err", err)
		_ = msg.TermWithReason("max deliveries reached")
	default:
		m.done(OutcomeRetry, took)
		span.RecordError(err)
		span.SetStatus(codes.Error, "will retry")
		delay := backoffFor(cfg.Backoff, delivered)
		log.Info("events: handler failed; will redeliver", "event_id", ev.ID, "type", ev.Type, "delivered", delivered, "delay", delay, "err", err)
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.Warn("events: nak failed", "event_id", ev.ID, "err", nerr)
		}
	}
}

// callHandler runs h, turning a panic into an error so that one bad event
// cannot take the consumer (or the service) down.
func callHandler(ctx context.Context, h Handler, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("events: handler panic: %v", r)
		}
	}()
	return h(ctx, ev)
}

// keepAlive sends in-progress acknowledgements every half AckWait so that a
// slow handler does not get its message redelivered to another replica.
func keepAlive(msg jetstream.Msg, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ackWait / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// backoffFor is the redelivery delay after the given delivery attempt.
func backoffFor(schedule []time.Duration, delivered uint64) time.Duration {
	i := int(delivered) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(schedule) {
		i = len(schedule) - 1
	}
	return schedule[i]
}

// headerCarrier adapts NATS headers, which are case-sensitive, to the
// propagation API (http.Header would canonicalise "traceparent" away).
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
