package content

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/store"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "content"

// Config is the content enabler's own configuration.
type Config struct {
	// StreamReplicas is the JetStream replica count of the service's
	// event stream: 1 in development, 3 on a production cluster.
	StreamReplicas int `flag:"stream-replicas" env:"STREAM_REPLICAS" default:"1" usage:"replicas of the service's JetStream stream (3 in production)"`

	// Issuer, JWKSURL and Audience verify the callers' access tokens
	// (defence in depth behind the gateway).
	jwks.ServiceConfig

	// SchedulerInterval is how often the scheduler looks for due
	// publications and expiries; SchedulerLease is how long one replica
	// holds the scheduler before another may take over.
	SchedulerInterval time.Duration `flag:"content-scheduler-interval" default:"5s" usage:"how often scheduled publications and expiries are applied"`
	SchedulerLease    time.Duration `flag:"content-scheduler-lease" default:"30s" usage:"how long one replica holds the scheduler lease"`

	// PublicMaxAge is the Cache-Control max-age of public content;
	// PublicCacheTTL how long a replica keeps a public item in memory.
	PublicMaxAge   time.Duration `flag:"content-public-max-age" default:"60s" usage:"Cache-Control max-age of the public content API"`
	PublicCacheTTL time.Duration `flag:"content-public-cache-ttl" default:"2s" usage:"how long a replica caches a public item in memory (0 disables)"`

	// FourEyesOff lists the ministries (one-person teams) whose editors
	// may approve a version they wrote or submitted themselves; every
	// other ministry has four-eyes review. The platform team sets it, not
	// the ministry: the control guards against the ministry's own accounts.
	FourEyesOff []string `flag:"content-four-eyes-off" usage:"ministries whose editors may approve their own versions (one-person teams), e.g. moh,mol"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	host.CheckStreamReplicas(&p, c.StreamReplicas)
	p.HTTPURL("issuer", c.Issuer, true)
	p.HTTPURL("jwks-url", c.JWKSURL, false)
	if c.Audience == "" {
		p.Add("audience", "must not be empty")
	}
	if c.SchedulerInterval < 10*time.Millisecond {
		p.Add("content-scheduler-interval", "must be at least 10ms")
	}
	if c.SchedulerLease < 2*c.SchedulerInterval {
		p.Add("content-scheduler-lease", "must be at least twice content-scheduler-interval")
	}
	if c.PublicMaxAge < 0 || c.PublicMaxAge > 24*time.Hour {
		p.Add("content-public-max-age", "must be between 0 and 24h")
	}
	if c.PublicCacheTTL < 0 || c.PublicCacheTTL > time.Minute {
		p.Add("content-public-cache-ttl", "must be between 0 and 1m")
	}
	return p.Err()
}

// Deps are what the service needs from the process that hosts it: the
// host's kit (database, bus, relay, clock, randomness, logger; Spec().Kit
// builds one) and its own extras.
type Deps struct {
	host.Kit
	// Verifier verifies access tokens; nil builds one from Config.
	Verifier TokenVerifier
}

// TokenVerifier verifies a bearer access token; *jwks.Verifier is one.
type TokenVerifier = authn.TokenVerifier

// Service is the content enabler.
type Service struct {
	cfg      Config
	db       *store.DB
	bus      *events.Bus
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
	relay    *events.Relay
	events   events.Factory
	verifier TokenVerifier
	cache    *publicCache
	// replica names this instance in the scheduler lease.
	replica string
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := host.CheckNew(Name, cfg, deps.Kit); err != nil {
		return nil, err
	}
	now, rnd := deps.Now, deps.Rand
	s := &Service{
		cfg:      cfg,
		db:       deps.DB,
		bus:      deps.Bus,
		log:      deps.Logger,
		now:      func() time.Time { return store.Stamp(now()) },
		rand:     rnd,
		relay:    deps.Relay,
		events:   deps.Events,
		verifier: deps.Verifier,
	}
	s.cache = newPublicCache(cfg.PublicCacheTTL, s.now)
	replica, err := store.NewIDFrom(rnd, "rep_")
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	s.replica = replica
	if s.verifier == nil {
		v, err := cfg.NewVerifier(now)
		if err != nil {
			return nil, fmt.Errorf("content: %w", err)
		}
		s.verifier = v
	}
	return s, nil
}

// Stream is the JetStream stream the service's events go to; the host
// declares it.
func (c Config) Stream() events.StreamConfig {
	return events.ServiceStream(Name, c.StreamReplicas)
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	contentv1.RegisterContentServiceServer(r, &grpcServer{svc: s})
}

// Run runs the scheduler until ctx ends; the host declares the stream and
// relays the outbox beside it.
func (s *Service) Run(ctx context.Context) error {
	return s.runScheduler(ctx)
}
