package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/sealed"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "auth"

// Deps are what the service needs from the process that hosts it: the
// host's kit (database, bus, relay, clock, randomness, logger; Spec().Kit
// builds one), and nothing of its own. Without a bus (NewAdmin) the kit
// has no relay.
type Deps struct {
	host.Kit
}

// Service is the auth enabler.
type Service struct {
	// Kit is the host's plumbing (deps.Kit as given): database, bus,
	// relay, clock, randomness, logger and event factory.
	host.Kit
	cfg    Config
	keys   derivedKeys
	hasher *hasher
	// recipient is signature's identity key (nil in NewAdmin without one).
	recipient *sealed.PublicKey
	ring      *keyring
	// oidc is the OpenID Provider's handler (Pages), built on first use.
	oidc oidcState
	// dummyHash is verified against when a client id or national ID is
	// unknown, so that it costs as much time as a wrong secret.
	dummyHash string
	metrics   *metrics
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Bus == nil {
		return nil, errors.New("auth: Deps.Bus is required")
	}
	// The running service publishes citizens' identities; administration
	// (NewAdmin) does not and needs no identity key.
	if cfg.IdentityRecipientKey == "" {
		return nil, errors.New("auth: identity-recipient-key is required (the signature enabler's public identity key; tamkeen identity-key public prints it)")
	}
	return NewAdmin(cfg, deps)
}

// NewAdmin returns the service for administration only (`tamkeen clients`,
// `tamkeen keys`): it needs no event bus, and its Run must not be called.
// What it changes that others must hear of goes to the outbox, which the
// running service's relay publishes.
func NewAdmin(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if deps.DB == nil {
		return nil, errors.New("auth: Deps.DB is required")
	}
	kek, err := decodeKEK(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("auth: key-encryption-key: %w", err)
	}
	keys, err := deriveKeys(kek)
	if err != nil {
		return nil, err
	}
	dummy, err := hashSecret("tamkeen-dummy-secret", cfg.HashParams())
	if err != nil {
		return nil, err
	}
	recipient, err := cfg.identityRecipient()
	if err != nil {
		return nil, fmt.Errorf("auth: identity-recipient-key: %w", err)
	}
	s := &Service{
		Kit:       deps.Kit,
		dummyHash: dummy,
		recipient: recipient,
		cfg:       cfg,
		keys:      keys,
		hasher:    newHasher(cfg.HashConcurrency, cfg.HashWait),
		metrics:   newMetrics(deps.Registerer(), host.OrDiscard(deps.Logger)),
	}
	s.ring = &keyring{svc: s}
	return s, nil
}

// decodeKEK decodes the base64 key-encryption key and checks its length.
func decodeKEK(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("is not base64")
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("decodes to %d bytes; want 32", len(b))
	}
	return b, nil
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	authv1.RegisterAuthServiceServer(r, &grpcServer{svc: s})
	authv1.RegisterClientOriginsServiceServer(r, &originsServer{svc: s})
	authv1.RegisterGatewayTokenServiceServer(r, newGatewayTokenServer(s, s.cfg.GatewaySecret))
}

// outboxPruneInterval is how often published outbox rows are deleted.
const outboxPruneInterval = time.Minute

// Run prunes published outbox rows (they may hold SMS codes) until ctx
// ends; the host declares the stream and relays the outbox beside it.
func (s *Service) Run(ctx context.Context) error {
	if s.Bus == nil {
		return errors.New("auth: Run needs an event bus (the service was made with NewAdmin)")
	}
	stop, err := s.consumeBackchannelLogout(ctx)
	if err != nil {
		return err
	}
	defer stop()
	pause.Every(ctx, outboxPruneInterval, func(ctx context.Context) {
		if _, err := s.PruneOutbox(ctx); err != nil && ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "auth: prune outbox failed", slog.String("error", err.Error()))
		}
	})
	return nil
}

// PruneOutbox deletes published outbox rows older than OutboxRetention and
// returns how many it deleted. Run calls it every minute.
func (s *Service) PruneOutbox(ctx context.Context) (int64, error) {
	// Finished or abandoned authorization requests go too: they count
	// sources only for a minute and hold codes for 60 s.
	if _, err := deleteExpiredAuthRequests(ctx, s.DB, ms(s.Now().Add(-time.Hour))); err != nil {
		return 0, err
	}
	if err := deleteExpiredProtocolRows(ctx, s.DB, ms(s.Now())); err != nil {
		return 0, err
	}
	return events.PrunePublished(ctx, s.DB, s.Now().Add(-s.cfg.OutboxRetention))
}
