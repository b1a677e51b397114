package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "payment"

// Config is the payment enabler's own configuration.
type Config struct {
	// StreamReplicas is the JetStream replica count of the service's
	// event stream: 1 in development, 3 on a production cluster.
	StreamReplicas int `flag:"stream-replicas" env:"STREAM_REPLICAS" default:"1" usage:"replicas of the service's JetStream stream (3 in production)"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		p.Addf("stream-replicas", "%d is outside 1..5", c.StreamReplicas)
	}
	return p.Err()
}

// Deps are what the service needs from the process that hosts it.
type Deps struct {
	// DB is the service's own database, migrated with Migrations.
	DB *store.DB
	// Bus publishes the outbox's events and consumes others' events.
	Bus *events.Bus
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the payment enabler.
type Service struct {
	cfg   Config
	db    *store.DB
	bus   *events.Bus
	log   *slog.Logger
	now   func() time.Time
	relay *events.Relay
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New("payment: Deps.DB and Deps.Bus are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		cfg:   cfg,
		db:    deps.DB,
		bus:   deps.Bus,
		log:   log,
		now:   now,
		relay: events.NewRelay(deps.DB, deps.Bus, events.RelayOptions{Logger: log}),
	}, nil
}

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
func Migrations() ([]store.MigrationSet, error) {
	return []store.MigrationSet{events.Migrations}, nil
}

// Stream is the JetStream stream the service's events go to.
func (s *Service) Stream() events.StreamConfig {
	return events.StreamConfig{
		Name:     "PAYMENT",
		Subjects: []string{"tamkeen.payment.>"},
		Replicas: s.cfg.StreamReplicas,
	}
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	paymentv1.RegisterPaymentServiceServer(r, &grpcServer{svc: s})
}

// Run declares the service's stream and relays its outbox until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.bus.EnsureStream(ctx, s.Stream()); err != nil {
		return fmt.Errorf("payment: %w", err)
	}
	return s.relay.Run(ctx)
}
