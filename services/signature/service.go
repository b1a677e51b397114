package signature

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/sealed"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "signature"

// MaxDocumentBytes is the largest document the enabler signs or validates.
const MaxDocumentBytes = 20 << 20

// pkiURLs are the URLs written into certificates.
type pkiURLs struct{ ca, crl, ocsp string }

// Deps are what the service needs from the process that hosts it: the
// host's kit (database, bus, relay, clock, randomness, logger; Spec().Kit
// builds one) and its own extras.
type Deps struct {
	host.Kit
	// Tokens verifies bearer tokens; nil builds a JWKS verifier from the
	// configuration.
	Tokens TokenVerifier
}

// TokenVerifier checks an access token and returns its claims;
// *jwks.Verifier is one.
type TokenVerifier = authn.TokenVerifier

// Service is the signature enabler.
type Service struct {
	// Kit is the host's plumbing: database, bus, relay, clock,
	// randomness, logger and event factory.
	host.Kit
	cfg     Config
	seal    *sealer
	idKeys  []*sealed.PrivateKey
	tokens  TokenVerifier
	serials *serialAllocator

	authMu    sync.Mutex
	authority *authority
	crlMu     sync.Mutex
	metrics   *metrics
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := host.CheckNew(Name, cfg, deps.Kit); err != nil {
		return nil, err
	}
	seal, err := newSealer(cfg.KeyEncryptionKey, deps.Rand)
	if err != nil {
		return nil, err
	}
	identityKeys, err := cfg.identityKeys()
	if err != nil {
		return nil, fmt.Errorf("signature: identity-key: %w", err)
	}
	tokens, err := cfg.TokenVerifier(deps.Tokens, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	s := &Service{
		Kit:     deps.Kit,
		cfg:     cfg,
		seal:    seal,
		idKeys:  identityKeys,
		tokens:  tokens,
		serials: &serialAllocator{db: deps.DB, name: "tsa_serial", block: 100},
	}
	if s.metrics, err = newMetrics(deps.Registerer(), s); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return s, nil
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	signaturev1.RegisterSignatureServiceServer(r, &grpcServer{svc: s})
}

// Run keeps the CRL fresh, learns citizens' proofing levels from the
// auth enabler and seals the payment enabler's revenue stamps (stamps.go)
// until ctx ends; the host declares the stream and relays the
// outbox beside it.
func (s *Service) Run(ctx context.Context) error {
	return host.RunAll(ctx, s.refreshCRLs, s.consumeProofing, s.consumeStamps)
}

// ca returns the loaded CA, loading it (or with pki-auto-init creating it)
// on first use.
func (s *Service) ca(ctx context.Context) (*authority, error) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if s.authority != nil {
		return s.authority, nil
	}
	a, err := loadAuthority(ctx, s.DB, s.seal, s.cfg.hsmConfig())
	if errors.Is(err, ErrNoPKI) && s.cfg.PKIAutoInit {
		s.Logger.WarnContext(ctx, "creating a new CA because pki-auto-init is on (development only)")
		_, ierr := InitPKI(ctx, s.DB, s.cfg, PKIOptions{Rand: s.Rand, Now: s.Now})
		if ierr != nil && !errors.Is(ierr, ErrPKIExists) {
			return nil, ierr
		}
		a, err = loadAuthority(ctx, s.DB, s.seal, s.cfg.hsmConfig())
	}
	if err != nil {
		if errors.Is(err, ErrNoPKI) {
			return nil, fmt.Errorf("%w: %w", ErrNoPKI, rpcerr.ErrFailedPrecondition)
		}
		return nil, err
	}
	s.authority = a
	return a, nil
}

// tsa returns the time-stamping authority of the loaded CA.
func (s *Service) tsa(ctx context.Context) (*tsaIssuer, error) {
	a, err := s.ca(ctx)
	if err != nil {
		return nil, err
	}
	policy, _ := parseOID(s.cfg.TSAPolicy)
	return &tsaIssuer{cert: a.tsa, chain: []*x509.Certificate{a.issuing}, key: a.tsaKey, policy: policy, accuracy: s.cfg.TSAAccuracy, serials: s.serials}, nil
}
