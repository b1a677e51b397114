package events

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/pause"
)

// ConsumeWhenReady consumes cfg with handler until ctx ends, then returns
// nil. The stream is usually another service's, which declares it when it
// first starts, so it may not exist yet: creating the consumer is retried,
// the pause doubling from 1 s to 30 s, each failure logged at debug level.
func (b *Bus) ConsumeWhenReady(ctx context.Context, cfg ConsumerConfig, handler Handler, log *slog.Logger) error {
	wait := time.Second
	for {
		stop, err := b.Consume(ctx, cfg, handler)
		if err == nil {
			<-ctx.Done()
			stop()
			return nil
		}
		if log != nil {
			log.DebugContext(ctx, "events: stream not consumable yet; retrying",
				slog.String("stream", cfg.Stream), slog.String("durable", cfg.Durable), slog.String("error", err.Error()))
		}
		if !pause.For(ctx, wait, nil) {
			return nil
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// ConsumeEvent consumes, under durable, the events called name that the
// enabler service publishes (type "tamkeen.<service>.<name>.v1" on the
// subject Subject(service, name) of its stream), with ConsumeWhenReady
// since that stream may not exist yet. Each event's data is decoded into
// a new M for handle; data that does not decode is a Permanent failure
// (it never will), and an event of another type on the subject is
// skipped.
func ConsumeEvent[T any, M interface {
	*T
	proto.Message
}](ctx context.Context, b *Bus, service, name, durable string, handle func(context.Context, Event, M) error, log *slog.Logger) error {
	cfg := ConsumerConfig{Stream: strings.ToUpper(service), Durable: durable, FilterSubjects: []string{Subject(service, name)}}
	typ := Subject(service, name) + ".v1"
	return b.ConsumeWhenReady(ctx, cfg, func(ctx context.Context, ev Event) error {
		if ev.Type != typ {
			return nil
		}
		m := M(new(T))
		if err := ev.UnmarshalData(m); err != nil {
			return Permanent(err)
		}
		return handle(ctx, ev, m)
	}, log)
}
