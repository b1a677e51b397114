package payment

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/store"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/payment/provider"
	"github.com/tamkeen/tamkeen/services/payment/sandbox"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "payment"

// Deps are what the service needs from the process that hosts it: the
// host's kit (database, bus, relay, clock, randomness, logger; Spec().Kit
// builds one) and its own extras.
type Deps struct {
	host.Kit
	// Providers are acquirers besides the sandbox (tests add wrappers).
	Providers []provider.Provider
	// Verifier verifies access tokens; nil builds one from Config.
	Verifier authn.TokenVerifier
	// Banks are direct-debit banks besides the sandbox bank; the one
	// named by Config.DebitBank collects.
	Banks []provider.BankProvider
	// SandboxDeliver replaces the sandbox's HTTP webhook delivery (tests
	// deliver in-process).
	SandboxDeliver sandbox.Deliverer
}

// Service is the payment enabler.
type Service struct {
	// Kit is the host's plumbing (database, bus, relay, clock, randomness,
	// logger, event factory) as Deps brought it.
	host.Kit
	cfg       Config
	providers map[string]provider.Provider
	sandbox   *sandbox.Acquirer
	// bank collects direct debits (Config.DebitBank); nil when none is
	// configured, and collections then wait.
	bank     provider.BankProvider
	verifier authn.TokenVerifier
	metrics  *metrics
	// crashAfterConfirm, set by tests, fails the webhook transaction after
	// the provider's confirmation is verified and before anything is
	// stored: what a crash at that moment leaves behind.
	crashAfterConfirm func() error
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := host.CheckNew(Name, cfg, deps.Kit); err != nil {
		return nil, err
	}
	s := &Service{Kit: deps.Kit, cfg: cfg, providers: map[string]provider.Provider{}}
	m, err := newMetrics(deps.Registerer())
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	s.metrics = m
	if cfg.sandboxOn() {
		deliver := deps.SandboxDeliver
		if deliver == nil {
			hook := cfg.SandboxWebhookURL
			if hook == "" {
				hook = cfg.publicURL() + "/v1/payments/providers/" + sandbox.Name + "/webhook"
			}
			deliver = sandbox.HTTPDeliverer(nil, hook)
		}
		sb, err := sandbox.New(deps.DB, sandbox.Config{
			Secret: cfg.sandboxSecret(), PublicURL: cfg.publicURL(), Deliver: deliver,
			Tolerance: cfg.WebhookTolerance, Now: s.Now, Rand: s.Rand, Logger: s.Logger.With("component", "sandbox"),
		})
		if err != nil {
			return nil, fmt.Errorf("payment: %w", err)
		}
		s.sandbox = sb
		s.providers[sb.Name()] = sb
	}
	for _, p := range deps.Providers {
		s.providers[p.Name()] = p
	}
	banks := deps.Banks
	if cfg.sandboxOn() {
		banks = append([]provider.BankProvider{sandbox.NewBank(deps.DB, s.Now)}, banks...)
	}
	bankName := cfg.DebitBank
	if bankName == "" {
		bankName = sandbox.BankName
	}
	for _, b := range banks {
		if b.Name() == bankName {
			s.bank = b
		}
	}
	v, err := cfg.TokenVerifier(deps.Verifier, s.Now)
	if err != nil {
		return nil, fmt.Errorf("payment: %w", err)
	}
	s.verifier = v
	return s, nil
}

// Sandbox returns the sandbox acquirer, or nil when it is off.
func (s *Service) Sandbox() *sandbox.Acquirer { return s.sandbox }

// Pages serves the sandbox acquirer's pages under /sandbox/ beside the
// process's ops endpoints (libs/host), for test environments where the
// gateway proxies /sandbox/ to them; nothing when the sandbox is off.
func (s *Service) Pages() (string, http.Handler) { return "/sandbox/", s.HTTPHandler() }

// HTTPHandler serves the sandbox's checkout pages and settlement reports
// under /sandbox/ (mount it on the gateway in dev: `GET /sandbox/{path=**}`
// and `POST /sandbox/{path=**}`); nil when the sandbox is off. A real
// acquirer hosts its own checkout, so production mounts nothing.
func (s *Service) HTTPHandler() http.Handler {
	if s.sandbox == nil {
		return nil
	}
	return s.sandbox.Handler()
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	paymentv1.RegisterPaymentServiceServer(r, &grpcServer{svc: s})
}

// Run sweeps expired and unconfirmed payments and pending refunds, and
// (with the sandbox) retries its webhooks, until ctx ends; the host
// declares the stream and relays the outbox beside it.
func (s *Service) Run(ctx context.Context) error {
	loops := []func(context.Context) error{s.sweepLoop, s.consumeSealedStamps}
	if s.sandbox != nil {
		loops = append(loops, s.sandbox.Run)
	}
	return host.RunAll(ctx, loops...)
}

// sweepLoop sweeps every sweep-interval until ctx ends.
func (s *Service) sweepLoop(ctx context.Context) error {
	pause.Every(ctx, s.cfg.SweepInterval, func(ctx context.Context) {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("payment: sweep", "err", err)
		}
	})
	return nil
}

// clock is the current time in UTC at the precision both engines keep.
func (s *Service) clock() time.Time { return store.Stamp(s.Now()) }
