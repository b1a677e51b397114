package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "auth"

// Config is the auth enabler's own configuration.
type Config struct {
	// Argon2 memory, time and threads for client secrets and passwords;
	// the defaults are OWASP's argon2id recommendation.
	Argon2MemoryKiB int `flag:"argon2-memory-kib" env:"ARGON2_MEMORY_KIB" default:"19456" usage:"argon2id memory cost in KiB"`
	Argon2Time      int `flag:"argon2-time" env:"ARGON2_TIME" default:"2" usage:"argon2id iterations"`
	Argon2Threads   int `flag:"argon2-threads" env:"ARGON2_THREADS" default:"1" usage:"argon2id parallelism"`
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
	if c.Argon2MemoryKiB < 8*1024 || c.Argon2MemoryKiB > 1<<20 {
		p.Addf("argon2-memory-kib", "%d is outside 8192..1048576", c.Argon2MemoryKiB)
	}
	if c.Argon2Time < 1 || c.Argon2Time > 10 {
		p.Addf("argon2-time", "%d is outside 1..10", c.Argon2Time)
	}
	if c.Argon2Threads < 1 || c.Argon2Threads > 16 {
		p.Addf("argon2-threads", "%d is outside 1..16", c.Argon2Threads)
	}
	return p.Err()
}

// HashParams are the argon2id parameters the configuration sets.
func (c Config) HashParams() HashParams {
	return HashParams{MemoryKiB: uint32(c.Argon2MemoryKiB), Time: uint32(c.Argon2Time), Threads: uint8(c.Argon2Threads)}
}

// DefaultConfig is the configuration with every default applied.
func DefaultConfig() Config {
	p := DefaultHashParams
	return Config{StreamReplicas: 1, Argon2MemoryKiB: int(p.MemoryKiB), Argon2Time: int(p.Time), Argon2Threads: int(p.Threads)}
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

// Service is the auth enabler.
type Service struct {
	cfg   Config
	db    *store.DB
	bus   *events.Bus
	log   *slog.Logger
	now   func() time.Time
	relay *events.Relay
	// dummyHash is verified against when a client id is unknown, so that
	// an unknown id costs as much time as a wrong secret.
	dummyHash string
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New("auth: Deps.DB and Deps.Bus are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	dummy, err := hashSecret("tamkeen-dummy-secret", cfg.HashParams())
	if err != nil {
		return nil, err
	}
	return &Service{
		dummyHash: dummy,
		cfg:       cfg,
		db:        deps.DB,
		bus:       deps.Bus,
		log:       log,
		now:       now,
		relay:     events.NewRelay(deps.DB, deps.Bus, events.RelayOptions{Logger: log}),
	}, nil
}

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
func Migrations() ([]store.MigrationSet, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	own, err := store.LoadMigrations(Name, dir)
	if err != nil {
		return nil, err
	}
	return []store.MigrationSet{events.Migrations, own}, nil
}

// Stream is the JetStream stream the service's events go to.
func (s *Service) Stream() events.StreamConfig {
	return events.StreamConfig{
		Name:     "AUTH",
		Subjects: []string{"tamkeen.auth.>"},
		Replicas: s.cfg.StreamReplicas,
	}
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	authv1.RegisterAuthServiceServer(r, &grpcServer{svc: s})
}

// Run declares the service's stream and relays its outbox until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.bus.EnsureStream(ctx, s.Stream()); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return s.relay.Run(ctx)
}
