package content

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "content"

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
