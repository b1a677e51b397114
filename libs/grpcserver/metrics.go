package grpcserver

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Metric names, compatible with the go-grpc-prometheus conventions that
// existing dashboards use.
const (
	metricHandled = "grpc_server_handled_total"
	metricLatency = "grpc_server_handling_seconds"
)

// metrics holds the per-method collectors.
type metrics struct {
	handled *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// newMetrics registers the collectors with reg, reusing ones already there
// so that several servers in one process (tamkeen dev) can share a registry.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		handled: in.CounterVec(metricHandled, "gRPC calls completed on the server, by method and status code.",
			[]string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"}),
		latency: in.HistogramVec(metricLatency, "Time the server took to handle a gRPC call, in seconds.",
			prometheus.DefBuckets, []string{"grpc_type", "grpc_service", "grpc_method"}),
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// observe records one finished call.
func (m *metrics) observe(kind, fullMethod string, start time.Time, err error) {
	svc, method := splitMethod(fullMethod)
	m.handled.WithLabelValues(kind, svc, method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(kind, svc, method).Observe(time.Since(start).Seconds())
}

// unary is the unary metrics interceptor.
func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	m.observe("unary", info.FullMethod, start, err)
	return resp, err
}

// stream is the streaming metrics interceptor.
func (m *metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	kind := "bidi_stream"
	switch {
	case info.IsClientStream && !info.IsServerStream:
		kind = "client_stream"
	case info.IsServerStream && !info.IsClientStream:
		kind = "server_stream"
	}
	m.observe(kind, info.FullMethod, start, err)
	return err
}

// splitMethod splits "/pkg.Service/Method" into service and method.
func splitMethod(full string) (string, string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
