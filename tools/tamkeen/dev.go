package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/services/notification"
	"github.com/tamkeen/tamkeen/services/payment"
)

// devConfig is the command line of `tamkeen dev`.
type devConfig struct {
	DataDir         string     `flag:"data-dir" default:"./.data" usage:"where the SQLite databases and the embedded NATS store live"`
	HTTPAddr        string     `flag:"http-addr" default:"127.0.0.1:8080" usage:"the gateway's listen address"`
	OpsAddr         string     `flag:"ops-addr" default:"127.0.0.1:8081" usage:"listen address of /metrics, /healthz, /readyz and /debug/pprof (never the API port)"`
	DevClientSecret string     `flag:"dev-client-secret" secret:"true" usage:"secret of the demo-ministry client (default: random, kept in the data dir)"`
	LogLevel        slog.Level `flag:"log-level" default:"info" usage:"minimum log level: debug, info, warn or error"`
	OTLPEndpoint    string     `flag:"otlp-endpoint" usage:"OTLP/gRPC trace collector; empty: no export"`
}

// Validate reports what is wrong with the dev settings.
func (c devConfig) Validate() error {
	var p config.Problems
	if strings.TrimSpace(c.DataDir) == "" {
		p.Add("data-dir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p.Addf("http-addr", "%q is not host:port", c.HTTPAddr)
	}
	if _, _, err := net.SplitHostPort(c.OpsAddr); err != nil {
		p.Addf("ops-addr", "%q is not host:port", c.OpsAddr)
	}
	if c.DevClientSecret != "" && len(c.DevClientSecret) < 16 {
		p.Add("dev-client-secret", "must be at least 16 characters")
	}
	return p.Err()
}

// DemoClientID is the ministry client `tamkeen dev` seeds (DESIGN.md §8).
const DemoClientID = "demo-ministry"

// DemoOrganization is the demo client's registered organisation: what its
// organisation seal names.
const DemoOrganization = "Demo Ministry"

// DemoMinistry is the demo client's registered ministry (its tokens'
// "ministry" claim). The client also holds the platform-wide scopes
// (content:admin, ledger:admin), so the tour may manage other ministries
// (moh, mol) as the platform team would.
const DemoMinistry = "demo"

// devShutdownTimeout bounds each server's graceful stop in dev.
const devShutdownTimeout = 5 * time.Second

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
	var cfg devConfig
	flags := flag.NewFlagSet("tamkeen dev", flag.ContinueOnError)
	flags.SetOutput(stderr)
	if err := config.Load(&cfg, flags, args, lookupEnv); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	logger := func(name string) *slog.Logger {
		return telemetry.NewLogger(stderr, telemetry.LoggerOptions{Level: cfg.LogLevel, Service: name})
	}
	log := logger("dev")

	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingOptions{ServiceName: "tamkeen-dev", OTLPEndpoint: cfg.OTLPEndpoint, Exporter: hooks.spans})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tracing.Shutdown(sctx)
	}()
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
	bus, err := events.NewBus(nc, events.BusOptions{Propagator: tracing.Propagator, TracerProvider: tracing.Provider, Logger: log})
	if err != nil {
		return err
	}

	// Listen first: the gateway's URL is the token issuer the auth enabler
	// and the gateway agree on.
	lis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	defer lis.Close()
	url := "http://" + lis.Addr().String()
	opsLis, err := net.Listen("tcp", cfg.OpsAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.OpsAddr, err)
	}
	defer opsLis.Close()
	opsURL := "http://" + opsLis.Addr().String()
	kek, err := keptSecret(filepath.Join(cfg.DataDir, "key-encryption-key"), 32, base64.StdEncoding)
	if err != nil {
		return err
	}
	identityKey, identityPub, err := devIdentityKeys(cfg.DataDir, lookupEnv)
	if err != nil {
		return err
	}
	// The services read their own Config from the environment; dev fills in
	// what a developer should not have to: the issuer, a key-encryption key
	// and the identity key (auth seals citizens' identities to its public
	// half, signature opens them) kept in the data dir, and the dev inbox
	// as the SMS provider.
	svcEnv := withDefaults(lookupEnv, map[string]string{
		"TAMKEEN_ISSUER":                 url,
		"TAMKEEN_KEY_ENCRYPTION_KEY":     kek,
		"TAMKEEN_IDENTITY_KEY":           identityKey,
		"TAMKEEN_IDENTITY_RECIPIENT_KEY": identityPub,
		"TAMKEEN_SMS_PROVIDER":           "devinbox",
		"TAMKEEN_DEV_MODE":               "true",
		// The signature enabler makes its CA on first start and issues
		// credentials to self-registered citizens (production: in person).
		"TAMKEEN_PKI_AUTO_INIT":      "true",
		"TAMKEEN_ALLOW_SELF_PROOFED": "true",
	})

	// Everything is built before anything runs, so that a failure during
	// set-up returns without goroutines to stop.
	var runners []func(ctx context.Context) error
	conns := map[string]*grpc.ClientConn{}
	var (
		authSvc *auth.Service
		inbox   *notification.DevInbox
		sandbox http.Handler
	)
	for _, e := range enablers() {
		db, err := openDevDB(ctx, cfg.DataDir, e)
		if err != nil {
			return err
		}
		defer db.Close()
		svcLog := logger(e.name)
		svc, err := e.build(svcEnv, host.Env{Logger: svcLog, Tracing: tracing, Registry: registry, DB: db, NATS: nc, Bus: bus, Now: now})
		if err != nil {
			return err
		}
		switch s := svc.(type) {
		case *auth.Service:
			authSvc = s
		case *notification.Service:
			inbox = notification.NewDevInbox(db, nil)
		case *payment.Service:
			// The sandbox acquirer's hosted checkout (dev and tests only).
			sandbox = s.HTTPHandler()
		}
		srv := grpcserver.New(grpcserver.Options{Logger: svcLog, Tracing: tracing, Registerer: registry, ShutdownTimeout: devShutdownTimeout})
		svc.Register(srv)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		conn, err := grpc.NewClient(lis.Addr().String(), append(grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: tracing}),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			return err
		}
		defer conn.Close()
		conns[e.name] = conn
		runners = append(runners,
			func(ctx context.Context) error { return srv.Serve(ctx, lis) },
			func(ctx context.Context) error { return ignoreCanceled(svc.Run(ctx)) })
	}

	secret, generated, err := demoClientSecret(cfg)
	if err != nil {
		return err
	}
	if err := authSvc.EnsureClient(ctx, auth.ClientSpec{
		ID: DemoClientID, Name: "Demo ministry", Ministry: DemoMinistry, Organization: DemoOrganization, Secret: secret, Scopes: scope.All(),
	}); err != nil {
		return fmt.Errorf("seed %s: %w", DemoClientID, err)
	}

	// The gateway's own database: access rights, the audit chain, usage.
	gwDB, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: filepath.Join(cfg.DataDir, "gateway.db")})
	if err != nil {
		return err
	}
	defer gwDB.Close()
	gwSet, err := gateway.Migrations()
	if err == nil {
		err = gwDB.Migrate(ctx, gwSet)
	}
	if err == nil {
		// Deny by default holds in dev too; the demo ministry may call everything.
		err = gateway.NewRights(gwDB, now).Grant(ctx, gateway.Right{ClientID: DemoClientID, Service: gateway.Wildcard})
	}
	if err != nil {
		return fmt.Errorf("gateway database: %w", err)
	}
	gwCfg := gateway.Config{
		HTTPAddr: cfg.HTTPAddr, OpsAddr: cfg.OpsAddr, ShutdownTimeout: devShutdownTimeout, Issuer: url,
		EnforceRights: true, Audit: true, Metering: true,
		RateLimits: []string{"read=100/200", "write=50/100", "public=50/100"},
	}
	if hooks.gateway != nil {
		hooks.gateway(&gwCfg)
	}
	gw, err := gateway.New(gwCfg, gateway.Deps{
		Logger: logger("gateway"), Tracing: tracing, Registry: registry, NATS: nc, Now: now, DB: gwDB,
		Backends: gateway.Backends{
			Auth: conns[auth.Name], Notification: conns[notification.Name], Signature: conns["signature"],
			Payment: conns["payment"], Content: conns["content"],
		},
	})
	if err != nil {
		return err
	}
	// The inbox shows every SMS, one-time codes included: loopback only,
	// even when --http-addr is a public interface.
	gw.Handle("GET /dev/inbox", gateway.LoopbackOnly(inbox))
	if sandbox != nil {
		for _, pattern := range []string{"GET /sandbox", "GET /sandbox/{path=**}", "POST /sandbox/{path=**}"} {
			gw.Handle(pattern, sandbox)
		}
	}
	runners = append(runners,
		func(ctx context.Context) error { return gw.Run(ctx, lis) },
		func(ctx context.Context) error { return gw.ServeOps(ctx, opsLis) })
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range runners {
		g.Go(func() error { return run(gctx) })
	}

	fmt.Fprintf(stdout, "Tamkeen is running at %s\n", url)
	fmt.Fprintf(stdout, "  API reference  %s/docs\n  OpenAPI        %s/openapi.json\n  dev inbox      %s/dev/inbox\n", url, url, url)
	fmt.Fprintf(stdout, "  operations     %s (/healthz /readyz /metrics /debug/pprof/)\n", opsURL)
	if generated {
		fmt.Fprintf(stdout, "  demo client    %s, secret %s (kept in %s)\n", DemoClientID, secret, secretFile(cfg.DataDir))
	} else {
		fmt.Fprintf(stdout, "  demo client    %s, secret from TAMKEEN_DEV_CLIENT_SECRET or the data dir\n", DemoClientID)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	log.Info("tamkeen dev started", slog.String("url", url), slog.String("ops_url", opsURL), slog.String("data_dir", cfg.DataDir))

	err = g.Wait()
	log.Info("tamkeen dev stopped", slog.Any("error", err))
	return err
}

// openDevDB opens and migrates the enabler's SQLite file under dataDir.
func openDevDB(ctx context.Context, dataDir string, e enabler) (*store.DB, error) {
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, DSN: filepath.Join(dataDir, e.name+".db")})
	if err != nil {
		return nil, err
	}
	sets, err := e.migrations()
	if err == nil && e.name == notification.Name {
		var inbox store.MigrationSet
		inbox, err = notification.DevInboxMigrations()
		sets = append(sets, inbox)
	}
	if err == nil {
		err = db.Migrate(ctx, sets...)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s database: %w", e.name, err)
	}
	return db, nil
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

// keptSecret returns the base64 secret of n random bytes kept in path,
// making it (mode 0600) on first use, so that a restart finds the same one.
func keptSecret(path string, n int, enc *base64.Encoding) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := enc.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
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
	secret, err = keptSecret(secretFile(cfg.DataDir), 24, base64.RawURLEncoding)
	return secret, true, err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
