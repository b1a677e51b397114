package notification

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "notification"

// Config is the notification enabler's own configuration.
type Config struct {
	// StreamReplicas is the JetStream replica count of the service's
	// event stream: 1 in development, 3 on a production cluster.
	StreamReplicas int `flag:"stream-replicas" env:"STREAM_REPLICAS" default:"1" usage:"replicas of the service's JetStream stream (3 in production)"`
	// SMSProvider names what SMS go out through: "none" (the service does
	// not consume SMS commands; they wait in the work queue, up to its
	// 15-minute MaxAge, until a provider is configured) or "devinbox"
	// (dev mode only). Issue 4 adds smpp and http.
	SMSProvider string `flag:"sms-provider" default:"none" usage:"SMS provider: none or devinbox (dev mode only)"`
	// DevMode allows development-only components such as the dev inbox.
	// Never set it in production: the dev inbox shows OTP codes to anyone
	// who can reach it.
	DevMode bool `flag:"dev-mode" usage:"allow development-only components (the dev inbox); never in production"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		p.Addf("stream-replicas", "%d is outside 1..5", c.StreamReplicas)
	}
	switch c.SMSProvider {
	case ProviderNone:
	case ProviderDevInbox:
		if !c.DevMode {
			p.Add("sms-provider", "devinbox is allowed only with --dev-mode")
		}
	default:
		p.Addf("sms-provider", "%q is not none or devinbox", c.SMSProvider)
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
	// Rand supplies the randomness of ids; nil means crypto/rand.
	Rand io.Reader
	// SMSProvider, when set, is used whatever Config.SMSProvider says: for
	// embedding the service and for tests of provider failures.
	SMSProvider SMSProvider
}

// Service is the notification enabler.
type Service struct {
	cfg   Config
	db    *store.DB
	bus   *events.Bus
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	relay *events.Relay

	// factory makes the events the service publishes.
	factory events.Factory
	// templates are the built-in templates.
	templates templateSet
	// sms is the SMS provider; nil when SMS commands are not consumed.
	sms SMSProvider
	// devInbox is set when SMS go to the dev inbox, whose table Run
	// creates if `tamkeen dev` has not.
	devInbox bool
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New("notification: Deps.DB and Deps.Bus are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{
		cfg:       cfg,
		db:        deps.DB,
		bus:       deps.Bus,
		log:       log,
		now:       now,
		rand:      deps.Rand,
		relay:     events.NewRelay(deps.DB, deps.Bus, events.RelayOptions{Logger: log}),
		factory:   events.Factory{Source: "tamkeen/" + Name, Now: now, Rand: deps.Rand},
		templates: newTemplateSet(BuiltinTemplates()),
	}
	switch {
	case deps.SMSProvider != nil:
		s.sms = deps.SMSProvider
	case cfg.SMSProvider == ProviderDevInbox:
		s.sms = NewDevInboxProvider(NewDevInbox(deps.DB, now))
		s.devInbox = true
	}
	return s, nil
}

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate`.
func Migrations() ([]store.MigrationSet, error) {
	own, err := notificationMigrations()
	if err != nil {
		return nil, err
	}
	return []store.MigrationSet{own, events.Migrations}, nil
}

// Event subjects the service publishes.
const (
	// SubjectStatusChanged carries NotificationStatusChanged events.
	SubjectStatusChanged = "tamkeen.notification.status_changed"
)

// CommandSubjectPrefix starts the subjects of commands sent to the
// service: tamkeen.notification.cmd.<lane>.<channel>, lane being otp,
// normal or bulk, so that each lane has its own consumer and an OTP never
// waits behind a campaign.
const CommandSubjectPrefix = "tamkeen.notification.cmd."

// commandMaxAge bounds how long a command (an OTP code among them) stays in
// the stream: an OTP that could not be sent in minutes is useless, and the
// code must not linger.
const commandMaxAge = 15 * time.Minute

// Stream is the JetStream stream the service's events go to.
func (s *Service) Stream() events.StreamConfig {
	return events.StreamConfig{
		Name:     "NOTIFICATION",
		Subjects: []string{SubjectStatusChanged},
		Replicas: s.cfg.StreamReplicas,
	}
}

// CommandStream is the work-queue stream of commands to the service; it
// alone consumes it, and a command leaves the stream once handled.
func (s *Service) CommandStream() events.StreamConfig {
	return events.StreamConfig{
		Name:      "NOTIFICATION_COMMANDS",
		Subjects:  []string{CommandSubjectPrefix + ">"},
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    commandMaxAge,
		Replicas:  s.cfg.StreamReplicas,
	}
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	notificationv1.RegisterNotificationServiceServer(r, &grpcServer{svc: s})
}

// Run declares the service's streams, consumes the OTP lane when an SMS
// provider is configured, and relays its outbox until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	for _, sc := range []events.StreamConfig{s.Stream(), s.CommandStream()} {
		if err := s.bus.EnsureStream(ctx, sc); err != nil {
			return fmt.Errorf("notification: %w", err)
		}
	}
	if s.sms != nil {
		if s.devInbox {
			// Idempotent; lets the notification binary run in dev mode on
			// its own, not only under `tamkeen dev`.
			set, err := DevInboxMigrations()
			if err == nil {
				err = s.db.Migrate(ctx, set)
			}
			if err != nil {
				return fmt.Errorf("notification: dev inbox: %w", err)
			}
		}
		stop, err := s.consumeOTP(ctx)
		if err != nil {
			return err
		}
		defer stop()
		s.log.Info("notification: consuming the OTP lane", slog.String("sms_provider", s.sms.Name()))
	} else {
		s.log.Info("notification: no SMS provider configured; SMS commands wait in the work queue")
	}
	return s.relay.Run(ctx)
}
