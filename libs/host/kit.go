package host

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Kit is the plumbing every enabler gets from its host, with the defaults
// applied once here rather than in each service (the idea of Temporal's
// ServerOptionsProvider): a service's Deps embeds it and adds only its own
// extras (providers, HTTP clients, token verifiers). Build one with NewKit
// or Spec.Kit; a Kit written by hand lacks the defaults.
type Kit struct {
	// Logger receives the service's logs; never nil.
	Logger *slog.Logger
	// Now is the clock; never nil. Tests and `tamkeen dev`'s end-to-end
	// tests set it to move time forward.
	Now func() time.Time
	// Rand is the source of every random value (ids, codes, keys, salts);
	// never nil, crypto/rand unless a test sets it.
	Rand io.Reader
	// DB is the service's own database, migrated with its Migrations.
	DB *store.DB
	// Bus publishes the outbox's events and consumes others' events; nil
	// for administration commands that run no service.
	Bus *events.Bus
	// NATS is the connection under Bus.
	NATS *nats.Conn
	// Registry receives the service's metrics: the process's, which its
	// ops listener serves at /metrics (NewKit gives a kit without one a
	// registry nobody scrapes). A kit written by hand may leave it nil;
	// register through Registerer then.
	Registry *prometheus.Registry
	// Tracing is the process's tracing set-up.
	Tracing *telemetry.Tracing
	// Relay publishes DB's outbox through Bus (nil without a Bus). The host
	// runs it beside the service's own loops; the service only Kicks it
	// after committing a transaction that enqueued events, which Commit
	// does.
	Relay *events.Relay
	// Events makes the CloudEvents the service publishes: source
	// "tamkeen/<name>", with the kit's clock and randomness.
	Events events.Factory
}

// NewKit returns the kit of the enabler called name from env, with every
// default applied: a discarding logger, time.Now, crypto/rand, a registry
// of its own when env has none, the bus counting its consumers' deliveries
// under service=name, an outbox relay configured by relay (its Logger,
// Now, Rand and metrics are the kit's) when env has both a database and a
// bus, and the event factory.
func NewKit(name string, env Env, relay events.RelayOptions) Kit {
	k := Kit{
		Logger: OrDiscard(env.Logger), Now: OrNow(env.Now), Rand: OrCryptoRand(env.Rand),
		DB: env.DB, Bus: env.Bus, NATS: env.NATS, Registry: env.Registry, Tracing: env.Tracing,
	}
	if k.Registry == nil {
		k.Registry = prometheus.NewRegistry() // scraped by nobody, but services register freely
	}
	metrics, err := events.NewMetrics(k.Registry)
	if err != nil {
		// Another collector took the names: the service runs, uncounted.
		k.Logger.Warn("host: events metrics not registered", "err", err)
		metrics = nil
	}
	if k.Bus != nil && metrics != nil {
		k.Bus = k.Bus.WithMetrics(metrics, name)
	}
	if k.DB != nil && k.Bus != nil {
		relay.Logger, relay.Now, relay.Rand, relay.Instance = k.Logger, k.Now, k.Rand, env.Instance
		relay.Metrics, relay.Service = metrics, name
		k.Relay = events.NewRelay(k.DB, k.Bus, relay)
	}
	k.Events = events.Factory{Source: "tamkeen/" + name, Now: k.Now, Rand: k.Rand}
	return k
}

// Kit returns the kit of the spec's enabler from env (NewKit with the
// spec's name and relay options).
func (s Spec[C]) Kit(env Env) Kit { return NewKit(s.Name, env, s.Relay) }

// RunLoops declares stream (when it has a name), then runs the kit's relay
// beside svc.Run until ctx ends: the background work Run and Compose start
// for every service, and what a test that runs a service calls instead of
// its Run.
func RunLoops(ctx context.Context, k Kit, stream events.StreamConfig, svc Service) error {
	if stream.Name != "" {
		if k.Bus == nil {
			return fmt.Errorf("host: stream %s needs an event bus", stream.Name)
		}
		if err := k.Bus.EnsureStream(ctx, stream); err != nil {
			return fmt.Errorf("host: %w", err)
		}
	}
	if k.Relay == nil {
		return svc.Run(ctx)
	}
	return RunAll(ctx, k.Relay.Run, svc.Run)
}

// built is one enabler built by the host: its kit, its stream under its
// configuration and the service.
type built struct {
	name   string
	kit    Kit
	stream events.StreamConfig
	svc    Service
}

// build makes the kit from env and the service from cfg.
func (s Spec[C]) build(cfg C, env Env) (*built, error) {
	kit := s.Kit(env)
	svc, err := s.New(cfg, kit)
	if err != nil {
		return nil, err
	}
	b := &built{name: s.Name, kit: kit, svc: svc}
	if s.Stream != nil {
		b.stream = s.Stream(cfg)
	}
	return b, nil
}

// run is RunLoops for b.
func (b *built) run(ctx context.Context) error { return RunLoops(ctx, b.kit, b.stream, b.svc) }

// OrDiscard returns log, or a logger that discards everything when log is
// nil: the one default of every optional logger (NewKit's, and those of
// components built outside a kit such as providers and the sandbox).
func OrDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// OrNow returns now, or time.Now when now is nil.
func OrNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// OrCryptoRand returns r, or crypto/rand's reader when r is nil.
func OrCryptoRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// Commit runs fn in one transaction of the kit's database and, once it has
// committed, wakes the relay to publish what fn enqueued at once rather
// than at its next poll. fn's error, or the commit's, is returned as it is
// and wakes nothing.
func (k Kit) Commit(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := k.DB.InTx(ctx, fn); err != nil {
		return err
	}
	k.Relay.Kick()
	return nil
}

// Registerer is where the service registers its metrics: the kit's
// Registry, or, in a kit written by hand without one, a registry of its
// own that nobody scrapes, so that registering never needs a nil check.
func (k Kit) Registerer() prometheus.Registerer {
	if k.Registry == nil {
		return prometheus.NewRegistry()
	}
	return k.Registry
}
