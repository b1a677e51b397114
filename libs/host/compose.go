package host

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Component is a Spec whose Config type is erased, so that one process can
// host several enablers (`tamkeen dev`) and tools can list them.
type Component struct {
	// Name is the enabler's name.
	Name string
	// Migrations lists the schema the enabler's database needs.
	Migrations func() ([]store.MigrationSet, error)
	// build loads the Config from the environment and builds the enabler.
	build func(lookupEnv func(string) (string, bool), env Env) (*built, error)
}

// Component returns the spec as a Component. Composed, its Config comes
// from the defaults and the environment only: there are no per-service
// flags in one process.
func (s Spec[C]) Component() Component {
	return Component{
		Name:       s.Name,
		Migrations: s.Migrations,
		build: func(lookupEnv func(string) (string, bool), env Env) (*built, error) {
			var cfg C
			if err := config.Load(&cfg, nil, nil, lookupEnv); err != nil {
				return nil, fmt.Errorf("%s: %w", s.Name, err)
			}
			return s.build(cfg, env)
		},
	}
}

// ComposeOptions is what a composed process has instead of each enabler's
// Common flags: the same services with another configuration (the idea of
// Temporal's LiteServer).
type ComposeOptions struct {
	// LookupEnv reads the services' configuration (TAMKEEN_… variables).
	LookupEnv func(string) (string, bool)
	// OpenDB opens the named enabler's database and applies sets.
	OpenDB func(ctx context.Context, name string, sets []store.MigrationSet) (*store.DB, error)
	// Logger returns the logger of the named enabler; nil discards logs.
	Logger func(name string) *slog.Logger
	// Tracing, Registry, NATS and Bus are shared by every enabler.
	Tracing  *telemetry.Tracing
	Registry *prometheus.Registry
	NATS     *nats.Conn
	Bus      *events.Bus
	// Now is every enabler's clock; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds each gRPC server's graceful stop.
	ShutdownTimeout time.Duration
	// Instance names the process across restarts (Env.Instance); one
	// process holds each database, so `tamkeen dev` may name it simply.
	Instance string
}

// Composed is one enabler of a Composition.
type Composed struct {
	// Name is the enabler's name.
	Name string
	// Service is the built service; optional behaviour (PageServer and
	// the like) is found through interfaces on it.
	Service Service
	// Kit is what the service was built with.
	Kit Kit
	// Conn is a client connection to the service's gRPC server.
	Conn *grpc.ClientConn
}

// Composition is several enablers in one process, each on its own loopback
// gRPC server as in production. Compose builds it; Run runs it; Close
// releases what Compose opened.
type Composition struct {
	// Services are the enablers in the order they were given.
	Services []Composed
	runners  []func(ctx context.Context) error
	closers  []func()
}

// Compose builds every component, in order, before anything runs, so that
// a failure during set-up returns with nothing to stop: its database (from
// opts.OpenDB), its kit, the service, a gRPC server on a free loopback port
// and a client connection to it.
func Compose(ctx context.Context, opts ComposeOptions, components ...Component) (_ *Composition, err error) {
	c := &Composition{}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	logger := opts.Logger
	if logger == nil {
		logger = func(string) *slog.Logger { return nil }
	}
	for _, comp := range components {
		sets, err := comp.Migrations()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", comp.Name, err)
		}
		db, err := opts.OpenDB(ctx, comp.Name, sets)
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, func() { db.Close() })
		log := logger(comp.Name)
		b, err := comp.build(opts.LookupEnv, Env{
			Logger: log, Tracing: opts.Tracing, Registry: opts.Registry, DB: db, NATS: opts.NATS, Bus: opts.Bus, Now: opts.Now,
			Instance: opts.Instance,
		})
		if err != nil {
			return nil, err
		}
		srv := grpcserver.New(grpcserver.Options{Logger: b.kit.Logger, Tracing: opts.Tracing, Registerer: opts.Registry, ShutdownTimeout: opts.ShutdownTimeout})
		b.svc.Register(srv)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, func() { lis.Close() })
		conn, err := grpc.NewClient(lis.Addr().String(), append(grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: opts.Tracing}),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, func() { conn.Close() })
		c.Services = append(c.Services, Composed{Name: comp.Name, Service: b.svc, Kit: b.kit, Conn: conn})
		c.runners = append(c.runners,
			func(ctx context.Context) error { return srv.Serve(ctx, lis) },
			func(ctx context.Context) error { return ignoreCanceled(b.run(ctx)) })
	}
	return c, nil
}

// Conn returns the client connection to the enabler called name, or nil.
func (c *Composition) Conn(name string) *grpc.ClientConn {
	for _, s := range c.Services {
		if s.Name == name {
			return s.Conn
		}
	}
	return nil
}

// Run serves every enabler's gRPC API and runs its stream, relay and
// background work until ctx ends or one of them fails.
func (c *Composition) Run(ctx context.Context) error {
	return RunAll(ctx, c.runners...)
}

// Close closes the connections and databases Compose opened, last opened
// first; call it after Run has returned.
func (c *Composition) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}
