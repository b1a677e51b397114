// Package host runs one Tamkeen enabler as its own process: configuration
// from flags and TAMKEEN_… variables, the JSON logger, tracing, metrics, the
// database and its migrations, the NATS connection and event bus, the gRPC
// server, and an ordered shutdown on SIGINT or SIGTERM. Every
// services/<name>/cmd/<name>/main.go is a call to Main, so the five
// production binaries start, log and stop the same way. Each service gets
// a Kit (kit.go) with every default applied here once; `tamkeen dev`
// composes the same Specs in one process through Compose (compose.go).
// What every enabler's own package would otherwise repeat (its Spec, its
// Migrations, the checks New starts with, its loops) is in enabler.go and
// loops.go.
package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Common is the configuration every enabler process has.
type Common struct {
	GRPCAddr    string `flag:"grpc-addr" default:"127.0.0.1:9090" usage:"gRPC listen address"`
	MetricsAddr string `flag:"metrics-addr" default:"127.0.0.1:9464" usage:"listen address of /metrics, /healthz and /readyz; empty disables"`
	// DBEngine and DBDSN name the service's database, as in the tamkeen
	// admin commands.
	store.Flags
	NATSURL       string `flag:"nats-url" default:"nats://127.0.0.1:4222" usage:"NATS server URL(s), comma-separated"`
	NATSCredsFile string `flag:"nats-creds-file" usage:"NATS credentials file (production clusters)"`
	// LogLevel, OTLPEndpoint and TraceSampleRatio: logs and traces.
	telemetry.Config
	// Instance names the process across restarts; see Env.Instance.
	Instance        string        `flag:"instance" usage:"this replica's name, the same after a restart (default: the host name, a pod's name in Kubernetes): its outbox relay frees at start the claims a killed run of the same name left; two live replicas must not share one"`
	Migrate         bool          `flag:"migrate" default:"true" usage:"apply database migrations at start-up (false: run tamkeen migrate first)"`
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" default:"15s" usage:"how long in-flight calls may finish at shutdown"`
}

// Validate reports what is wrong with the common settings.
func (c Common) Validate() error {
	var p config.Problems
	c.Flags.Check(&p)
	if msg := c.SampleRatioProblem(); msg != "" {
		p.Add("trace-sample-ratio", msg)
	}
	if c.ShutdownTimeout <= 0 {
		p.Add("shutdown-timeout", "must be positive")
	}
	return p.Err()
}

// Env is what a host process has for a service before any default is
// applied; NewKit turns it into the service's Kit.
type Env struct {
	Logger   *slog.Logger
	Tracing  *telemetry.Tracing
	Registry *prometheus.Registry
	DB       *store.DB
	NATS     *nats.Conn
	Bus      *events.Bus
	// Now is the clock; nil means time.Now. Tests and `tamkeen dev`'s
	// end-to-end tests set it to move time forward.
	Now func() time.Time
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Instance names this process across restarts (events.RelayOptions.
	// Instance): a restarted process publishes at once the outbox rows its
	// killed predecessor had claimed. "" claims anonymously (tests).
	Instance string
}

// Service is what every enabler's constructor returns.
type Service interface {
	// Register adds the service's gRPC API.
	Register(r grpc.ServiceRegistrar)
	// Run does the service's own background work (consumers, schedulers,
	// sweepers) until ctx ends; the host runs the outbox relay beside it.
	Run(ctx context.Context) error
}

// PageServer is a Service that serves HTTP pages of its own (a path prefix
// such as "/sandbox/" and its handler; a nil handler serves nothing).
type PageServer interface {
	Pages() (prefix string, h http.Handler)
}

// Spec describes an enabler to host. C is its own Config type; its flags
// and variables sit beside the Common ones.
type Spec[C any] struct {
	// Name is the enabler's name ("payment"): the log's service attribute,
	// the trace's service.name and the NATS connection name.
	Name string
	// Migrations lists the schema the service's database needs.
	Migrations func() ([]store.MigrationSet, error)
	// Stream is the JetStream stream the service's events go to under
	// cfg; the host declares it before the relay and the service's Run
	// start. Nil declares none.
	Stream func(cfg C) events.StreamConfig
	// Relay configures the service's outbox relay (batch size, lease,
	// polling); its Logger, Now and Rand are the kit's.
	Relay events.RelayOptions
	// New builds the service from its configuration and its kit.
	New func(cfg C, kit Kit) (Service, error)
}

// processConfig is the whole command line of an enabler process.
type processConfig[C any] struct {
	Common  Common
	Service C
}

// Validate runs both halves' checks and reports all their problems.
func (p *processConfig[C]) Validate() error {
	var all config.Problems
	MergeProblems(&all, p.Common.Validate())
	if v, ok := any(p.Service).(interface{ Validate() error }); ok {
		MergeProblems(&all, v.Validate())
	}
	return all.Err()
}

// MergeProblems adds the problems err reports (a *config.Error, or any
// error as one problem) to all.
func MergeProblems(all *config.Problems, err error) {
	if err == nil {
		return
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		all.Add("", err.Error())
		return
	}
	for _, pr := range ce.Problems {
		all.Add(pr.Flag, pr.Message)
	}
}

// Main runs the enabler until SIGINT or SIGTERM and exits: status 0 after a
// clean shutdown, 2 for bad configuration, 1 for any other failure.
func Main[C any](spec Spec[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, spec, os.Args[1:], os.LookupEnv, os.Stderr)
	stop()
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(*config.Error)):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
		os.Exit(1)
	}
}

// Run is Main without the process: it serves until ctx is done and returns
// nil after a clean shutdown.
func Run[C any](ctx context.Context, spec Spec[C], args []string, lookupEnv func(string) (string, bool), stderr io.Writer) error {
	var cfg processConfig[C]
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := config.Load(&cfg, fs, args, lookupEnv); err != nil {
		return err
	}
	c := cfg.Common
	log := c.Logger(stderr, spec.Name)
	log.Info("starting", slog.Any("config", config.Describe(&cfg)))

	tracing, stopTracing, err := StartTracing(ctx, c.TracingOptions("tamkeen-"+spec.Name))
	if err != nil {
		return err
	}
	defer stopTracing()
	registry := telemetry.NewRegistry()

	db, err := c.Flags.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sets, err := spec.Migrations()
	if err != nil {
		return err
	}
	if c.Migrate {
		if err := db.Migrate(ctx, sets...); err != nil {
			return err
		}
	}

	nc, err := ConnectNATS(c.NATSURL, spec.Name, c.NATSCredsFile, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := NewBus(nc, tracing, log)
	if err != nil {
		return err
	}

	instance := c.Instance
	if instance == "" {
		instance, _ = os.Hostname()
	}
	b, err := spec.build(cfg.Service, Env{Logger: log, Tracing: tracing, Registry: registry, DB: db, NATS: nc, Bus: bus, Instance: instance})
	if err != nil {
		return err
	}
	svc := b.svc
	srv := grpcserver.New(grpcserver.Options{
		Logger: log, Tracing: tracing, Registerer: registry, ShutdownTimeout: c.ShutdownTimeout,
	})
	svc.Register(srv)

	lis, err := Listen(c.GRPCAddr)
	if err != nil {
		return err
	}
	// Both listeners are bound before anything runs: a taken address fails
	// the start-up, and once the service runs its probes answer.
	var opsLis net.Listener
	if c.MetricsAddr != "" {
		if opsLis, err = Listen(c.MetricsAddr); err != nil {
			lis.Close()
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis) })
	g.Go(func() error { return ignoreCanceled(b.run(gctx)) })
	if opsLis != nil {
		mux := OpsMux(registry, func(context.Context) error { return natsReady(nc) })
		// A service with pages of its own (the payment sandbox's checkout,
		// in test environments) serves them beside the ops endpoints; the
		// gateway proxies the public path to them.
		if pages, ok := svc.(PageServer); ok {
			if prefix, h := pages.Pages(); h != nil {
				mux.Handle(prefix, h)
			}
		}
		g.Go(func() error { return ServeListener(gctx, opsLis, mux, c.ShutdownTimeout) })
	}
	err = g.Wait()
	log.Info("stopped", slog.Any("error", err))
	return err
}

// StartTracing starts a process's tracing; stop flushes and shuts it down
// within five seconds, last thing before the process ends.
func StartTracing(ctx context.Context, opts telemetry.TracingOptions) (_ *telemetry.Tracing, stop func(), _ error) {
	tracing, err := telemetry.NewTracing(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return tracing, func() { shutdownWithin(tracing.Shutdown, 5*time.Second) }, nil
}

// NewBus is a process's event bus on nc: the events carry tracing's
// context, and the bus logs to log.
func NewBus(nc *nats.Conn, tracing *telemetry.Tracing, log *slog.Logger) (*events.Bus, error) {
	return events.NewBus(nc, events.BusOptions{Propagator: tracing.Propagator, TracerProvider: tracing.Provider, Logger: log})
}

// Listen listens on the TCP address addr; its error names addr. A process
// binds every listener before anything runs, so that a taken address fails
// its start-up.
func Listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return lis, nil
}

// ConnectNATS connects to the NATS servers at url and keeps reconnecting
// for as long as the process lives: the outbox holds events while NATS is
// away, so giving up would only lose time.
func ConnectNATS(url, name, credsFile string, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("tamkeen-" + name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	if credsFile != "" {
		opts = append(opts, nats.UserCredentials(credsFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	return nc, nil
}

// natsReady reports whether the connection is up.
func natsReady(nc *nats.Conn) error {
	if !nc.IsConnected() {
		return fmt.Errorf("nats: %s", nc.Status())
	}
	return nil
}

// OpsMux serves the operators' endpoints of a service process: /metrics
// from registry, /healthz (the process answers), /readyz (ready reports
// nil) and the /debug/pprof/ profiles, as the gateway's ops address does.
func OpsMux(registry *prometheus.Registry, ready func(context.Context) error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"unavailable","detail":%q}`, err.Error())
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	telemetry.HandleProfiles(mux)
	return mux
}

// ServeHTTP serves h on addr until ctx is done, then shuts down within
// timeout.
func ServeHTTP(ctx context.Context, addr string, h http.Handler, timeout time.Duration) error {
	lis, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, lis, h, timeout)
}

// ServeListener is ServeHTTP on an open listener.
func ServeListener(ctx context.Context, lis net.Listener, h http.Handler, timeout time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func shutdownWithin(f func(context.Context) error, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = f(ctx)
}
