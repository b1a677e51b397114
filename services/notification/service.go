package notification

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// Name is the enabler's name: its event source, stream and log name.
const Name = "notification"

// Deps are what the service needs from the process that hosts it: the
// host's kit (database, bus, relay, clock, randomness, logger; Spec().Kit
// builds one) and its own extras.
type Deps struct {
	host.Kit
	// SMSProvider, when set, is used whatever Config.SMSProvider says: for
	// embedding the service and for tests of provider failures.
	SMSProvider SMSProvider
	// EmailProvider, when set, is used whatever Config.EmailProvider says.
	EmailProvider EmailProvider
	// Verifier verifies client tokens; nil builds one from the Config.
	Verifier TokenVerifier
	// HTTPClient makes outgoing HTTP calls (HTTP SMS provider, status
	// callbacks); nil means a client with a 10-second timeout.
	HTTPClient *http.Client
	// SMTPTLSConfig, when set, is the TLS configuration of SMTP
	// connections (tests trust their own CA with it).
	SMTPTLSConfig *tls.Config
}

// TokenVerifier checks a bearer token; *jwks.Verifier is one.
type TokenVerifier = authn.TokenVerifier

// Service is the notification enabler.
type Service struct {
	// Kit is the host's plumbing: database, bus, relay, clock,
	// randomness, logger and the factory of the events the service
	// publishes.
	host.Kit
	cfg Config
	// templates are the built-in templates.
	templates templateSet
	// sms is the SMS provider; nil when SMS commands are not consumed.
	sms SMSProvider
	// email is the e-mail provider; nil when e-mail commands wait.
	email EmailProvider
	// devInbox is set when messages go to the dev inbox, whose table Run
	// creates if `tamkeen dev` has not.
	devInbox bool
	verifier TokenVerifier
	http     *http.Client
	// webhookHTTP posts webhooks: outside dev mode it refuses to connect
	// to loopback, private and link-local addresses (webhookClient).
	webhookHTTP *http.Client
	// callbacks are the clients' status callback URLs by client id.
	callbacks map[string]string
	home      map[string]bool
	intl      map[string]bool
	// backoff are the waits between a webhook delivery's attempts.
	backoff []time.Duration
	// runners are the providers' own loops (an SMPP session).
	runners []func(ctx context.Context) error
	metrics *metrics
	// feedKick wakes the bulk feeder (bulkstream.go).
	feedKick chan struct{}
}

// New checks cfg and deps and returns the service. The database must
// already be migrated (see Migrations).
func New(cfg Config, deps Deps) (*Service, error) {
	if err := host.CheckNew(Name, cfg, deps.Kit); err != nil {
		return nil, err
	}
	hc := deps.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	cbs, _ := parseCallbacks(cfg.Callbacks)
	verifier, err := cfg.TokenVerifier(deps.Verifier, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	s := &Service{
		feedKick:  make(chan struct{}, 1),
		Kit:       deps.Kit,
		cfg:       cfg,
		templates: newTemplateSet(BuiltinTemplates()),
		verifier:  verifier,
		http:      hc,
		callbacks: cbs,
		home:      setOf(cfg.HomeCountryCodes),
		intl:      setOf(cfg.InternationalClients),
		backoff:   cfg.Webhooks.backoff(),
	}
	s.webhookHTTP = webhookClient(deps.HTTPClient, cfg.DevMode)
	switch {
	case deps.SMSProvider != nil:
		s.sms = deps.SMSProvider
	case cfg.SMSProvider == ProviderDevInbox:
		s.sms = NewDevInboxProvider(NewDevInbox(s.DB, s.Now))
		s.devInbox = true
	case cfg.SMSProvider == ProviderSMPP:
		p := NewSMPPProvider(cfg.SMPP, s.applyReceipt, s.Logger.With(slog.String("provider", ProviderSMPP)))
		s.sms = p
		s.runners = append(s.runners, p.Run)
	case cfg.SMSProvider == ProviderHTTP:
		s.sms = NewHTTPSMSProvider(cfg.HTTPSMS, hc)
	}
	switch {
	case deps.EmailProvider != nil:
		s.email = deps.EmailProvider
	case cfg.emailProvider() == ProviderDevInbox:
		s.email = NewDevInboxEmailProvider(NewDevInbox(s.DB, s.Now))
		s.devInbox = true
	case cfg.emailProvider() == ProviderSMTP:
		s.email = NewSMTPProvider(cfg.SMTP, deps.SMTPTLSConfig)
	}
	s.metrics = newMetrics(s)
	return s, nil
}

// setOf indexes items.
func setOf(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// Event subjects the service publishes.
const (
	// SubjectStatusChanged carries NotificationStatusChanged events.
	SubjectStatusChanged = "tamkeen.notification.status_changed"
	// SubjectDelivered carries a NotificationStatusChanged when a message
	// is delivered.
	SubjectDelivered = "tamkeen.notification.delivered"
	// SubjectFailed carries a NotificationStatusChanged when a message
	// ends in a failure status.
	SubjectFailed = "tamkeen.notification.failed"
)

// CommandSubjectPrefix starts the subjects of commands sent to the
// service: tamkeen.notification.cmd.<lane>.<channel>, lane being otp,
// normal or bulk, so that each lane has its own consumer and an OTP never
// waits behind a campaign.
const CommandSubjectPrefix = "tamkeen.notification.cmd."

// commandMaxAge bounds how long a command (an OTP code among them) stays in
// the stream: an OTP that could not be sent in minutes is useless, and the
// code must not linger. Normal and bulk commands carry no secrets, only
// the id of their row; one that ages out is swept up from the database.
const commandMaxAge = 15 * time.Minute

// CommandStream is the work-queue stream of OTP commands to the service;
// it alone consumes it, and a command leaves the stream once handled.
func (s *Service) CommandStream() events.StreamConfig {
	return events.StreamConfig{
		Name:      "NOTIFICATION_COMMANDS",
		Subjects:  []string{CommandSubjectPrefix + LaneOTP + ".>"},
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    commandMaxAge,
		Replicas:  s.cfg.StreamReplicas,
	}
}

// queueMaxAge bounds how long a normal or bulk command waits: a 50,000
// message campaign through a throttled SMSC takes hours, and these
// commands hold no secret (only their row's id).
const queueMaxAge = 72 * time.Hour

// QueueStream is the work-queue stream of the normal and bulk lanes.
func (s *Service) QueueStream() events.StreamConfig {
	return events.StreamConfig{
		Name:      "NOTIFICATION_QUEUE",
		Subjects:  []string{CommandSubjectPrefix + LaneNormal + ".>", CommandSubjectPrefix + LaneBulk + ".>"},
		Retention: jetstream.WorkQueuePolicy,
		MaxAge:    queueMaxAge,
		Replicas:  s.cfg.StreamReplicas,
	}
}

// Register adds the service's gRPC API to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	notificationv1.RegisterNotificationServiceServer(r, &grpcServer{svc: s})
}

// Run declares the command streams, consumes the lanes whose channel has
// a provider, runs the providers' sessions, delivers status callbacks and
// prunes closed limit windows until ctx ends; the host declares the event stream and relays the outbox
// beside it.
func (s *Service) Run(ctx context.Context) error {
	// CommandStream first: an older version took all of cmd.>.
	for _, sc := range []events.StreamConfig{s.CommandStream(), s.QueueStream()} {
		if err := s.Bus.EnsureStream(ctx, sc); err != nil {
			return fmt.Errorf("notification: %w", err)
		}
	}
	if s.devInbox {
		// Idempotent; lets the notification binary run in dev mode on
		// its own, not only under `tamkeen dev`.
		set, err := DevInboxMigrations()
		if err == nil {
			err = s.DB.Migrate(ctx, set)
		}
		if err != nil {
			return fmt.Errorf("notification: dev inbox: %w", err)
		}
	}
	// Shutdown order: the lanes stop first (a send in flight finishes and
	// records its outcome), then the provider sessions (an SMPP unbind)
	// and the callback loop.
	sessCtx, stopSessions := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopSessions()
		wg.Wait()
	}()
	for _, run := range s.runners {
		wg.Go(func() {
			if err := run(sessCtx); err != nil && !errors.Is(err, context.Canceled) {
				s.Logger.Error("notification: provider session ended", slog.String("err", err.Error()))
			}
		})
	}
	stop, err := s.consumeLanes(ctx)
	if err != nil {
		return err
	}
	defer stop()
	wg.Go(func() { s.runCallbacks(ctx) })
	wg.Go(func() { s.runLimitSweep(ctx) })
	wg.Go(func() { s.runBulkFeeder(ctx) })
	// Receipts of payments (tamkeen.payment.succeeded), on the normal lane.
	wg.Go(func() { s.runReceipts(ctx) })
	// Direct-debit announcements and failures, to the numbers citizens
	// verified with auth.
	wg.Go(func() { s.runCitizenPhones(ctx) })
	wg.Go(func() { s.runDebits(ctx) })
	// Outbound webhooks: payment events become deliveries, and a worker
	// posts the due ones.
	wg.Go(func() { s.runPaymentWebhooks(ctx) })
	wg.Go(func() { s.runWebhooks(ctx) })
	<-ctx.Done()
	return nil
}
