// Package grpcserver is the gRPC bootstrap every Tamkeen service uses: one
// constructor that returns a *grpc.Server with panic recovery, a request log,
// error mapping, Prometheus metrics, OpenTelemetry tracing, message size
// limits and the standard health service already in place, and a Serve
// method that shuts down in a fixed, documented order.
//
// A service's main (or tamkeen dev) does:
//
//	srv := grpcserver.New(grpcserver.Options{Logger: log, Tracing: tr, Registerer: reg})
//	payment.Register(srv) // srv is a grpc.ServiceRegistrar
//	lis, _ := net.Listen("tcp", addr)
//	err := srv.Serve(ctx, lis) // returns after ctx is done and shutdown ran
package grpcserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Defaults applied by New to zero Options fields.
const (
	// DefaultMaxMsgSize fits a 20 MiB document to sign plus base64 and
	// envelope overhead.
	DefaultMaxMsgSize = 32 << 20
	// DefaultShutdownTimeout bounds how long in-flight calls may run after
	// shutdown starts.
	DefaultShutdownTimeout = 10 * time.Second
)

// Options configures New. The zero value is usable: no logs, no tracing, no
// metrics, default limits.
type Options struct {
	// Logger receives the request log and panic reports; nil discards.
	// Records get trace_id/span_id whether or not it came from
	// telemetry.NewLogger.
	Logger *slog.Logger
	// Tracing, when set, traces every call with its provider and
	// propagator (otelgrpc stats handler).
	Tracing *telemetry.Tracing
	// Registerer, when set, receives a per-method request counter and
	// latency histogram. Several servers may share one registerer.
	Registerer prometheus.Registerer
	// MaxRecvMsgSize and MaxSendMsgSize limit message sizes in bytes;
	// 0 means DefaultMaxMsgSize. A larger request fails with
	// codes.ResourceExhausted.
	MaxRecvMsgSize, MaxSendMsgSize int
	// ShutdownTimeout bounds graceful stop; 0 means
	// DefaultShutdownTimeout. Calls still running then are cancelled.
	ShutdownTimeout time.Duration
	// DrainDelay is how long Serve keeps serving after reporting
	// NOT_SERVING, so that load balancers and readiness probes stop sending
	// traffic before the listener closes; 0 means no delay.
	DrainDelay time.Duration
	// UnaryInterceptors run after the built-in ones, closest to the handler.
	UnaryInterceptors []grpc.UnaryServerInterceptor
	// StreamInterceptors run after the built-in ones, closest to the handler.
	StreamInterceptors []grpc.StreamServerInterceptor
}

// Server is a gRPC server with Tamkeen's plumbing. It implements
// grpc.ServiceRegistrar.
type Server struct {
	grpc            *grpc.Server
	health          *health.Server
	logger          *slog.Logger
	shutdownTimeout time.Duration
	drainDelay      time.Duration
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// New builds a Server from opts. Built-in interceptors run in this order,
// outermost first: request log, metrics, panic recovery, error mapping
// (rpcerr.FromDomain, so a plain error never leaks its text), then
// opts.UnaryInterceptors / opts.StreamInterceptors.
func New(opts Options) *Server {
	logger := slog.New(slog.DiscardHandler)
	if opts.Logger != nil {
		logger = slog.New(telemetry.TraceHandler(opts.Logger.Handler()))
	}
	recv, send := opts.MaxRecvMsgSize, opts.MaxSendMsgSize
	if recv <= 0 {
		recv = DefaultMaxMsgSize
	}
	if send <= 0 {
		send = DefaultMaxMsgSize
	}
	s := &Server{
		health:          health.NewServer(),
		logger:          logger,
		shutdownTimeout: opts.ShutdownTimeout,
		drainDelay:      opts.DrainDelay,
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}

	unary := []grpc.UnaryServerInterceptor{unaryLog(logger)}
	stream := []grpc.StreamServerInterceptor{streamLog(logger)}
	if opts.Registerer != nil {
		if m, err := newMetrics(opts.Registerer); err != nil {
			logger.Error("grpc metrics disabled", slog.String("error", err.Error()))
		} else {
			unary = append(unary, m.unary)
			stream = append(stream, m.stream)
		}
	}
	unary = append(unary, unaryRecover(logger), unaryMapErrors(logger))
	stream = append(stream, streamRecover(logger), streamMapErrors(logger))
	unary = append(unary, opts.UnaryInterceptors...)
	stream = append(stream, opts.StreamInterceptors...)

	serverOpts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(recv),
		grpc.MaxSendMsgSize(send),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	if opts.Tracing != nil {
		serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelOptions(opts.Tracing)...)))
	}
	s.grpc = grpc.NewServer(serverOpts...)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

// otelOptions points otelgrpc at the given tracing instead of the globals;
// gRPC metrics come from our Prometheus interceptors, so its meter is a no-op.
func otelOptions(t *telemetry.Tracing) []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(t.Provider),
		otelgrpc.WithPropagators(t.Propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	}
}

// RegisterService registers impl for desc and reports the service SERVING
// on the health service under desc.ServiceName.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(desc, impl)
	s.health.SetServingStatus(desc.ServiceName, healthpb.HealthCheckResponse_SERVING)
}

// Health returns the health service, so that a service can report itself
// NOT_SERVING while a dependency is down.
func (s *Server) Health() *health.Server { return s.health }

// GRPC returns the underlying server (for reflection or channelz).
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Serve accepts connections on lis until ctx is done, then shuts down and
// returns nil. It returns early with an error only if serving fails.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	s.logger.InfoContext(ctx, "grpc server listening", slog.String("addr", lis.Addr().String()))

	select {
	case err := <-serveErr:
		// Serve failed on its own (listener closed or broken); make sure
		// nothing is left running and health reflects it.
		s.health.Shutdown()
		s.grpc.Stop()
		if err == nil || errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return err
	case <-ctx.Done():
	}

	// Shutdown, in order; ctx is done, so log with a fresh context.
	bg := context.WithoutCancel(ctx)
	s.logger.InfoContext(bg, "grpc server shutting down", slog.Duration("timeout", s.shutdownTimeout))

	// 1. Report NOT_SERVING for every service (and ignore later updates),
	// so health checks and Watch streams tell load balancers to go away.
	s.health.Shutdown()

	// 2. Give them time to notice while we still serve what arrives.
	if s.drainDelay > 0 {
		time.Sleep(s.drainDelay)
	}

	// 3. Stop accepting new connections and calls; let in-flight calls
	// finish, but no longer than ShutdownTimeout.
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
		s.logger.InfoContext(bg, "grpc server stopped gracefully")
	case <-timer.C:
		// 4. Deadline passed: close every connection, cancelling the calls
		// still running, which also releases GracefulStop.
		s.logger.WarnContext(bg, "grpc graceful stop timed out; cancelling in-flight calls")
		s.grpc.Stop()
		<-stopped
	}
	<-serveErr
	return nil
}
