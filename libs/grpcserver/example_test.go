package grpcserver_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// A service's main wires telemetry into the server, registers the service
// and serves until SIGINT/SIGTERM.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	logger := telemetry.NewLogger(os.Stderr, telemetry.LoggerOptions{Service: "payment", Level: slog.LevelInfo})
	tr, err := telemetry.NewTracing(ctx, telemetry.TracingOptions{ServiceName: "payment", OTLPEndpoint: ""})
	if err != nil {
		logger.Error("tracing", "error", err)
		return
	}
	defer func() { _ = tr.Shutdown(context.WithoutCancel(ctx)) }()
	reg := telemetry.NewRegistry() // also served on /metrics

	srv := grpcserver.New(grpcserver.Options{Logger: logger, Tracing: tr, Registerer: reg})
	srv.RegisterService(&echoDesc, newEcho()) // a generated RegisterXServer(srv, impl) works the same

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		logger.Error("listen", "error", err)
		return
	}
	if err := srv.Serve(ctx, lis); err != nil {
		logger.Error("serve", "error", err)
	}

	// Clients (the gateway) dial with the matching options.
	conn, err := grpc.NewClient("dns:///payment:9090", append(
		grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: tr}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)...)
	if err == nil {
		_ = conn.Close()
	}
}
