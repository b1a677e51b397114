package content

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "content"

// Config is the content enabler's own configuration.
type Config struct {
	// EnablerConfig is the stream replicas and the verification of the
	// callers' access tokens every enabler has.
	host.EnablerConfig

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
	c.CheckStream(&p)
	c.CheckTokens(&p)
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
	// Kit is the host's, with a clock that rounds through store.Stamp so
	// that every time the service stores reads back equal.
	host.Kit
	cfg      Config
	verifier TokenVerifier
	cache    *publicCache
	// replica names this instance in the scheduler lease.
	replica string
	metrics *metrics
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := host.CheckNew(Name, cfg, deps.Kit); err != nil {
		return nil, err
	}
	now := deps.Now
	s := &Service{Kit: deps.Kit, cfg: cfg}
	s.Now = func() time.Time { return store.Stamp(now()) }
	s.cache = newPublicCache(cfg.PublicCacheTTL, s.Now)
	replica, err := store.NewIDFrom(s.Rand, "rep_")
	if err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	s.replica = replica
	if s.metrics, err = newMetrics(deps.Registerer()); err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	// The verifier reads the host's clock as it is: token lifetimes need
	// no rounding.
	if s.verifier, err = cfg.TokenVerifier(deps.Verifier, now); err != nil {
		return nil, fmt.Errorf("content: %w", err)
	}
	return s, nil
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
