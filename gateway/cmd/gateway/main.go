// Command gateway runs Tamkeen's HTTP gateway in front of the five enablers.
// Settings come from flags or TAMKEEN_* environment variables (--help).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func run() error {
	var s gateway.Settings
	if err := config.Load(&s, flag.NewFlagSet("gateway", flag.ContinueOnError), os.Args[1:], os.LookupEnv); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := s.Logger(os.Stderr, "gateway")
	tracing, err := telemetry.NewTracing(ctx, s.TracingOptions("gateway"))
	if err != nil {
		return err
	}
	defer func() { _ = tracing.Shutdown(context.WithoutCancel(ctx)) }()

	// gRPC services are reachable only inside the cluster (DESIGN.md 6).
	dialOpts := append(grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: tracing}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	var b gateway.Backends
	for _, t := range []struct {
		addr string
		conn **grpc.ClientConn
	}{{s.Auth, &b.Auth}, {s.Notification, &b.Notification}, {s.Signature, &b.Signature}, {s.Payment, &b.Payment}, {s.Content, &b.Content}} {
		cc, err := grpc.NewClient(t.addr, dialOpts...)
		if err != nil {
			return fmt.Errorf("dial %s: %w", t.addr, err)
		}
		defer cc.Close()
		*t.conn = cc
	}
	var nc *nats.Conn
	if s.NATSURL != "" {
		// Keep reconnecting forever: /readyz reports the outage meanwhile.
		nc, err = nats.Connect(s.NATSURL, nats.Name("tamkeen-gateway"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		defer nc.Close()
	}
	var db *store.DB
	if s.DBDSN != "" {
		db, err = gateway.OpenDB(ctx, store.Options{Engine: store.Engine(s.DBEngine), DSN: s.DBDSN})
		if err != nil {
			return err
		}
		defer db.Close()
	}
	g, err := gateway.New(s.Gateway, gateway.Deps{
		Logger: logger, Tracing: tracing, Registry: telemetry.NewRegistry(), Backends: b, NATS: nc, DB: db,
	})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.Gateway.HTTPAddr)
	if err != nil {
		return err
	}
	// /metrics, /healthz, /readyz and pprof: their own listener, never
	// the public API port.
	opsLis, err := net.Listen("tcp", s.Gateway.OpsAddr)
	if err != nil {
		lis.Close()
		return err
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "gateway listening", config.Describe(&s)...)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opsDone := make(chan error, 1)
	go func() {
		err := g.ServeOps(ctx, opsLis)
		cancel() // without its probes the gateway must not keep serving
		opsDone <- err
	}()
	// The X-Road provider side (--xroad-addr): its own TLS listener.
	xroadDone := make(chan error, 1)
	if g.XRoadEnabled() {
		xlis, err := net.Listen("tcp", s.Gateway.XRoadAddr)
		if err != nil {
			cancel()
			return errors.Join(err, <-opsDone)
		}
		go func() {
			err := g.ServeXRoad(ctx, xlis)
			cancel()
			xroadDone <- err
		}()
	} else {
		xroadDone <- nil
	}
	err = g.Run(ctx, lis)
	cancel()
	return errors.Join(err, <-opsDone, <-xroadDone)
}
