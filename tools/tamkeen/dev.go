package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sync/errgroup"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/services/content"
	"github.com/tamkeen/tamkeen/services/notification"
	"github.com/tamkeen/tamkeen/services/payment"
	"github.com/tamkeen/tamkeen/services/signature"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// devConfig is the command line of `tamkeen dev`.
type devConfig struct {
	DataDir         string `flag:"data-dir" default:"./.data" usage:"where the SQLite databases and the embedded NATS store live"`
	DevClientSecret string `flag:"dev-client-secret" secret:"true" usage:"secret of the demo-ministry client (default: random, kept in the data dir)"`
	// Gateway are the production gateway's settings, the same flags and
	// TAMKEEN_… variables as cmd/gateway (--http-addr, --ops-addr,
	// --rate-limits, --audit, --max-concurrent, …), so that a benchmark
	// or a test can change them without editing code. Dev's own defaults
	// (devGatewayDefaults) apply where a setting has no default of its
	// own; the issuer defaults to the gateway's URL.
	Gateway gateway.Config
	// LogLevel, OTLPEndpoint and TraceSampleRatio, as every process has.
	telemetry.Config
}

// Validate reports what is wrong with the dev settings.
func (c devConfig) Validate() error {
	var p config.Problems
	if strings.TrimSpace(c.DataDir) == "" {
		p.Add("data-dir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Gateway.HTTPAddr); err != nil {
		p.Addf("http-addr", "%q is not host:port", c.Gateway.HTTPAddr)
	}
	if _, _, err := net.SplitHostPort(c.Gateway.OpsAddr); err != nil {
		p.Addf("ops-addr", "%q is not host:port", c.Gateway.OpsAddr)
	}
	if msg := c.SampleRatioProblem(); msg != "" {
		p.Add("trace-sample-ratio", msg)
	}
	if c.DevClientSecret != "" && len(c.DevClientSecret) < 16 {
		p.Add("dev-client-secret", "must be at least 16 characters")
	}
	return p.Err()
}

// devShutdownTimeout bounds each server's graceful stop in dev.
const devShutdownTimeout = 5 * time.Second

// devGatewayDefaults is what dev's gateway does unless a flag or a
// TAMKEEN_… variable says otherwise: every security feature on (rights,
// audit, metering) and modest rate limits, as a ministry's integration
// would meet them. cmd/gateway's flags default to off and no limits; the
// settings with a default of their own (timeouts, body limits) take it in
// both. `--rate-limits=` (or TAMKEEN_RATE_LIMITS=" ") lifts the limits,
// `--audit=false` drops the audit log's write, and so on.
func devGatewayDefaults() gateway.Config {
	return gateway.Config{
		EnforceRights: true, Audit: true, Metering: true,
		RateLimits: []string{"read=100/200", "write=50/100", "public=50/100"},
	}
}

// runDev runs every enabler and the gateway in one process until ctx is
// done: embedded NATS with JetStream and one SQLite file per service under
// the data dir, each service on its own loopback gRPC server (as in
// production, each with its own log name), the gateway on --http-addr. The
// data survives a restart.
func runDev(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	return runDevWith(ctx, devHooks{}, args, lookupEnv, stdout, stderr)
}

// devHooks are what end-to-end tests change in `tamkeen dev`.
type devHooks struct {
	// now is the clock of the services and the gateway; nil: time.Now.
	now func() time.Time
	// spans, when set, receives every span (an in-memory exporter).
	spans sdktrace.SpanExporter
	// gateway, when set, edits the gateway's configuration (e.g. no rate
	// limits for a test that sends hundreds of requests).
	gateway func(*gateway.Config)
}

// runDevWith is runDev with the hooks end-to-end tests set: a clock they
// move forward, a span exporter they read.
func runDevWith(ctx context.Context, hooks devHooks, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	now := hooks.now
	cfg := devConfig{Gateway: devGatewayDefaults()}
	if err := config.Parse(&cfg, "tamkeen dev", args, lookupEnv, stderr); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// One tamkeen dev per data dir, decided before anything in it is
	// opened: a second one used to open the NATS store (and fail only at
	// the listeners), with two processes writing one store meanwhile.
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	logger := func(name string) *slog.Logger {
		return cfg.Logger(stderr, name)
	}
	log := logger("dev")

	traceOpts := cfg.TracingOptions("tamkeen-dev")
	traceOpts.Exporter = hooks.spans
	tracing, stopTracing, err := host.StartTracing(ctx, traceOpts)
	if err != nil {
		return err
	}
	defer stopTracing()
	registry := telemetry.NewRegistry()

	// Shutdown runs in the reverse order of these defers: the servers stop
	// (errgroup below), then the databases close, then the NATS connection,
	// and the embedded NATS server last, so the relays never lose it early.
	ns, err := natsembed.Start(natsembed.Options{StoreDir: filepath.Join(cfg.DataDir, "nats"), ServerName: "tamkeen-dev"})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	nc, err := ns.Connect(nats.Name("tamkeen-dev"))
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := host.NewBus(nc, tracing, log)
	if err != nil {
		return err
	}

	// Listen first: the gateway's URL is the token issuer the auth enabler
	// and the gateway agree on.
	lis, err := host.Listen(cfg.Gateway.HTTPAddr)
	if err != nil {
		return err
	}
	defer lis.Close()
	url := "http://" + lis.Addr().String()
	issuer := cfg.Gateway.Issuer
	if issuer == "" {
		issuer = url
	}
	opsLis, err := host.Listen(cfg.Gateway.OpsAddr)
	if err != nil {
		return err
	}
	defer opsLis.Close()
	opsURL := "http://" + opsLis.Addr().String()
	kek, err := demo.KeptSecret(filepath.Join(cfg.DataDir, "key-encryption-key"), 32, base64.StdEncoding)
	if err != nil {
		return err
	}
	// The key the notification enabler derives callback and webhook
	// signing secrets from, kept like the KEK.
	callbackKey, err := demo.KeptSecret(filepath.Join(cfg.DataDir, "callback-key"), 32, base64.StdEncoding)
	if err != nil {
		return err
	}
	identityKey, identityPub, err := devIdentityKeys(cfg.DataDir, lookupEnv)
	if err != nil {
		return err
	}
	// The X-Road provider side (--xroad-addr and its TLS files): auth and
	// the gateway share a secret kept in the data dir for auth's
	// GatewayTokenService.
	var xlis net.Listener
	var gatewaySecret string
	if cfg.Gateway.XRoadAddr != "" {
		if gatewaySecret, err = demo.KeptSecret(filepath.Join(cfg.DataDir, "gateway-secret"), 32, base64.RawURLEncoding); err != nil {
			return err
		}
		if xlis, err = host.Listen(cfg.Gateway.XRoadAddr); err != nil {
			return err
		}
		defer xlis.Close()
	}
	// The services read their own Config from the environment; dev fills in
	// what a developer should not have to: the issuer, a key-encryption key
	// and the identity key (auth seals citizens' identities to its public
	// half, signature opens them) kept in the data dir, and the dev inbox
	// as the SMS provider.
	svcEnv := withDefaults(lookupEnv, map[string]string{
		"TAMKEEN_ISSUER":                 issuer,
		"TAMKEEN_KEY_ENCRYPTION_KEY":     kek,
		"TAMKEEN_IDENTITY_KEY":           identityKey,
		"TAMKEEN_IDENTITY_RECIPIENT_KEY": identityPub,
		"TAMKEEN_SMS_PROVIDER":           "devinbox",
		"TAMKEEN_DEV_MODE":               "true",
		"TAMKEEN_CALLBACK_KEY":           callbackKey,
		// The signature enabler makes its CA on first start and issues
		// credentials to self-registered citizens (production: in person).
		"TAMKEEN_PKI_AUTO_INIT":      "true",
		"TAMKEEN_ALLOW_SELF_PROOFED": "true",
		"TAMKEEN_GATEWAY_SECRET":     gatewaySecret,
	})

	// Everything is built before anything runs, so that a failure during
	// set-up returns without goroutines to stop: the same Specs the
	// per-service binaries run, each on its own loopback gRPC server (as in
	// production, each with its own log name), with dev's configuration.
	comp, err := host.Compose(ctx, host.ComposeOptions{
		LookupEnv: svcEnv,
		OpenDB: func(ctx context.Context, name string, sets []store.MigrationSet) (*store.DB, error) {
			return openDevDB(ctx, cfg.DataDir, name, sets)
		},
		Logger: logger, Tracing: tracing, Registry: registry, NATS: nc, Bus: bus, Now: now,
		ShutdownTimeout: devShutdownTimeout,
		// The data dir's lock makes this the only process on its
		// databases: a restart frees its predecessor's outbox claims.
		Instance: "tamkeen-dev",
	}, enablers()...)
	if err != nil {
		return err
	}
	defer comp.Close()

	secret, generated, err := demoClientSecret(cfg)
	if err != nil {
		return err
	}
	if err := seedDemoClient(ctx, comp, auth.ClientSpec{
		ID: demo.ClientID, Name: demo.Name, Ministry: demo.Ministry, Organization: demo.Organization, Secret: secret, Scopes: scope.All(),
	}); err != nil {
		return fmt.Errorf("seed %s: %w", demo.ClientID, err)
	}
	// The citizen portal of the code flow: what a ministry's web app is
	// to the hosted sign-in pages (public, PKCE, any loopback port).
	if err := seedDemoClient(ctx, comp, auth.ClientSpec{
		ID: demo.PortalClientID, Name: demo.PortalName, Ministry: demo.Ministry, Organization: demo.Organization,
		Scopes: []string{auth.ScopeProfile, auth.ScopePhone, auth.ScopeEmail},
		CodeFlow: auth.CodeFlow{
			Public: true, Loopback: true, MaxACR: auth.ACRStepUp,
			RedirectURIs: []string{demo.PortalRedirectURI}, PostLogoutRedirectURIs: []string{demo.PortalPostLogoutURI},
		},
	}); err != nil {
		return fmt.Errorf("seed %s: %w", demo.PortalClientID, err)
	}

	// The gateway's own database: access rights, the audit chain, usage.
	gwDB, err := openGatewayDB(ctx, serviceDB{DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer gwDB.Close()
	// Deny by default holds in dev too; the demo ministry may call everything.
	if err := gateway.NewRights(gwDB, now).Grant(ctx, gateway.Right{ClientID: demo.ClientID, Service: gateway.Wildcard}); err != nil {
		return fmt.Errorf("gateway database: %w", err)
	}
	gwCfg := cfg.Gateway
	gwCfg.Issuer = issuer
	if gwCfg.XRoadGatewaySecret == "" {
		gwCfg.XRoadGatewaySecret = gatewaySecret
	}
	if hooks.gateway != nil {
		hooks.gateway(&gwCfg)
	}
	gw, err := gateway.New(gwCfg, gateway.Deps{
		Logger: logger("gateway"), Tracing: tracing, Registry: registry, NATS: nc, Now: now, DB: gwDB,
		OIDC: oidcPages(comp),
		Backends: gateway.Backends{
			Auth: comp.Conn(auth.Name), Notification: comp.Conn(notification.Name), Signature: comp.Conn(signature.Name),
			Payment: comp.Conn(payment.Name), Content: comp.Conn(content.Name),
		},
	})
	if err != nil {
		return err
	}
	mountDevPages(gw, comp)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return comp.Run(gctx) })
	g.Go(func() error { return gw.Run(gctx, lis) })
	g.Go(func() error { return gw.ServeOps(gctx, opsLis) })
	if xlis != nil {
		g.Go(func() error { return gw.ServeXRoad(gctx, xlis) })
	}

	fmt.Fprintf(stdout, "Tamkeen is running at %s\n", url)
	fmt.Fprintf(stdout, "  API reference  %s/docs\n  OpenAPI        %s/openapi.json\n  dev inbox      %s/dev/inbox\n", url, url, url)
	fmt.Fprintf(stdout, "  operations     %s (/healthz /readyz /metrics /debug/pprof/)\n", opsURL)
	if xlis != nil {
		fmt.Fprintf(stdout, "  X-Road         https://%s (mutual TLS: the security server's certificate; tamkeen xroad map)\n", xlis.Addr())
	}
	if generated {
		fmt.Fprintf(stdout, "  demo client    %s, secret %s (kept in %s)\n", demo.ClientID, secret, secretFile(cfg.DataDir))
	} else {
		fmt.Fprintf(stdout, "  demo client    %s, secret from TAMKEEN_DEV_CLIENT_SECRET or the data dir\n", demo.ClientID)
	}
	fmt.Fprintf(stdout, "  sign-in (OIDC)  %s/.well-known/openid-configuration, public client %s (PKCE S256; redirect %s on any port)\n",
		url, demo.PortalClientID, demo.PortalRedirectURI)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	log.Info("tamkeen dev started", slog.String("url", url), slog.String("ops_url", opsURL), slog.String("data_dir", cfg.DataDir))

	err = g.Wait()
	log.Info("tamkeen dev stopped", slog.Any("error", err))
	return err
}

// openDevDB opens the enabler's SQLite file under dataDir, as the admin
// commands do with --data-dir, and applies sets (and, for notification,
// the dev inbox's table, so that /dev/inbox answers before the service's
// Run has made it).
func openDevDB(ctx context.Context, dataDir, name string, sets []store.MigrationSet) (*store.DB, error) {
	if name == notification.Name {
		inbox, err := notification.DevInboxMigrations()
		if err != nil {
			return nil, fmt.Errorf("%s database: %w", name, err)
		}
		sets = append(sets, inbox)
	}
	return serviceDB{DataDir: dataDir}.open(ctx, name, sets...)
}

// clientSeeder is an enabler that registers API clients (auth).
type clientSeeder interface {
	EnsureClient(ctx context.Context, spec auth.ClientSpec) error
}

// seedDemoClient registers spec with the composed enabler that keeps
// clients.
func seedDemoClient(ctx context.Context, comp *host.Composition, spec auth.ClientSpec) error {
	for _, s := range comp.Services {
		if seeder, ok := s.Service.(clientSeeder); ok {
			return seeder.EnsureClient(ctx, spec)
		}
	}
	return errors.New("no enabler keeps API clients")
}

// oidcPages is auth's OpenID Provider and sign-in pages, which the gateway
// routes itself (/oauth2/ and the code and refresh grants of
// /oauth2/token), as cmd/gateway does with --oidc-url.
func oidcPages(comp *host.Composition) http.Handler {
	for _, s := range comp.Services {
		if pages, ok := s.Service.(host.PageServer); ok && s.Name == auth.Name {
			_, h := pages.Pages()
			return h
		}
	}
	return nil
}

// devInboxServer is an enabler with a dev inbox page (notification).
type devInboxServer interface {
	DevInbox() http.Handler
}

// mountDevPages mounts on the gateway what the enablers show only in dev:
// the dev inbox at /dev/inbox and each host.PageServer's pages (the
// payment sandbox's hosted checkout) under their prefix; auth's pages
// went to the gateway as Deps.OIDC.
func mountDevPages(gw *gateway.Gateway, comp *host.Composition) {
	for _, s := range comp.Services {
		if inbox, ok := s.Service.(devInboxServer); ok {
			// The inbox shows every SMS, one-time codes included: loopback
			// only, even when --http-addr is a public interface.
			gw.Handle("GET /dev/inbox", gateway.LoopbackOnly(inbox.DevInbox()))
		}
		if pages, ok := s.Service.(host.PageServer); ok && s.Name != auth.Name {
			if prefix, h := pages.Pages(); h != nil {
				for _, pattern := range []string{"GET " + strings.TrimSuffix(prefix, "/"), "GET " + prefix + "{path=**}", "POST " + prefix + "{path=**}"} {
					gw.Handle(pattern, h)
				}
			}
		}
	}
}

func secretFile(dataDir string) string { return filepath.Join(dataDir, "demo-client-secret") }

// withDefaults looks a variable up in lookupEnv and, when it is unset or
// empty there, in defaults.
func withDefaults(lookupEnv func(string) (string, bool), defaults map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := lookupEnv(k); ok && v != "" {
			return v, true
		}
		v, ok := defaults[k]
		return v, ok
	}
}

// demoClientSecret returns the configured secret, else the one kept in the
// data dir (made on first use), so that a restart does not change it.
// generated reports that it is not from the configuration (and may be
// printed).
func demoClientSecret(cfg devConfig) (secret string, generated bool, err error) {
	if cfg.DevClientSecret != "" {
		return cfg.DevClientSecret, false, nil
	}
	// URL-safe, so it needs no escaping in a form body or a shell.
	secret, err = demo.KeptSecret(secretFile(cfg.DataDir), 24, base64.RawURLEncoding)
	return secret, true, err
}

// errDataDirInUse is returned when another tamkeen dev holds the data dir.
var errDataDirInUse = errors.New("the data dir is in use by another tamkeen dev (stop it, or give another --data-dir)")

// lockDataDir takes an exclusive lock on dir's lock file for as long as
// the process lives (the kernel drops it if the process dies), or fails
// at once with errDataDirInUse; unlock releases it.
func lockDataDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "tamkeen-dev.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, errDataDirInUse)
		}
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
