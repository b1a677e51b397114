package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ErrTracingConfig is wrapped by every error NewTracing returns for a bad
// TracingOptions value.
var ErrTracingConfig = errors.New("telemetry: invalid tracing options")

// TracingOptions configures NewTracing.
type TracingOptions struct {
	// ServiceName becomes the service.name resource attribute of every span.
	ServiceName string
	// OTLPEndpoint is where spans are exported over OTLP/gRPC; empty means
	// no export (spans still get IDs, so logs can carry them).
	// "http://collector:4317" and a bare "collector:4317" use plaintext,
	// "https://collector:4317" uses TLS with the system roots.
	OTLPEndpoint string
	// SampleRatio is the fraction of new traces that are sampled, in
	// [0, 1]; 0 means the default, 1.0 (sample everything). A negative value
	// samples no new trace. Traces started elsewhere follow the caller's
	// decision (parent based).
	SampleRatio float64
	// Exporter, when set, receives every ended sampled span synchronously
	// in addition to any OTLP export. It is meant for tests
	// (tracetest.NewInMemoryExporter) and local debugging.
	Exporter sdktrace.SpanExporter
}

// Tracing holds what a process needs to trace: a provider to create tracers
// from and the propagator that carries trace context across HTTP, gRPC and
// NATS. Pass both explicitly; nothing is installed globally.
type Tracing struct {
	// Provider creates tracers. It always assigns trace and span IDs, even
	// to spans that are not sampled.
	Provider trace.TracerProvider
	// Propagator injects and extracts W3C Trace Context and Baggage.
	Propagator propagation.TextMapPropagator

	sdk *sdktrace.TracerProvider
}

// NewTracing builds the tracer provider described by opts. The OTLP exporter
// connects lazily, so an unreachable collector does not fail start-up; spans
// are batched and dropped if it stays down. Call Shutdown before the process
// exits to flush them.
func NewTracing(ctx context.Context, opts TracingOptions) (*Tracing, error) {
	ratio := opts.SampleRatio
	switch {
	case math.IsNaN(ratio) || ratio > 1:
		return nil, fmt.Errorf("%w: sample ratio %v is not in [0, 1]", ErrTracingConfig, opts.SampleRatio)
	case ratio == 0:
		ratio = 1
	case ratio < 0:
		ratio = 0
	}
	spOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", opts.ServiceName))),
	}
	if opts.OTLPEndpoint != "" {
		epOpts, err := endpointOptions(opts.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracegrpc.New(ctx, epOpts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: create OTLP exporter for %s: %w", opts.OTLPEndpoint, err)
		}
		spOpts = append(spOpts, sdktrace.WithBatcher(exp))
	}
	if opts.Exporter != nil {
		spOpts = append(spOpts, sdktrace.WithSyncer(opts.Exporter))
	}
	tp := sdktrace.NewTracerProvider(spOpts...)
	return &Tracing{
		Provider:   tp,
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		sdk:        tp,
	}, nil
}

// endpointOptions turns an endpoint setting into exporter options.
func endpointOptions(endpoint string) ([]otlptracegrpc.Option, error) {
	if !strings.Contains(endpoint, "://") {
		return []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure()}, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: OTLP endpoint %q: %v", ErrTracingConfig, endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: OTLP endpoint %q: want http(s)://host:port or host:port", ErrTracingConfig, endpoint)
	}
	return []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}, nil
}

// Shutdown flushes buffered spans and stops exporting; the provider then
// creates no-op spans. It is safe on a nil *Tracing or a hand-built one.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shut down tracing: %w", err)
	}
	return nil
}
