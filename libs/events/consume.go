package events

import (
	"context"
	"log/slog"
	"time"

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
