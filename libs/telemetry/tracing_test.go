package telemetry_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

func TestNewTracingOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        telemetry.TracingOptions
		wantErr     bool
		wantSampled bool
	}{
		{name: "default samples all", opts: telemetry.TracingOptions{ServiceName: "auth"}, wantSampled: true},
		{name: "ratio one", opts: telemetry.TracingOptions{SampleRatio: 1}, wantSampled: true},
		{name: "negative samples none", opts: telemetry.TracingOptions{SampleRatio: -1}, wantSampled: false},
		{name: "ratio above one", opts: telemetry.TracingOptions{SampleRatio: 1.5}, wantErr: true},
		{name: "bad endpoint scheme", opts: telemetry.TracingOptions{OTLPEndpoint: "ftp://collector:4317"}, wantErr: true},
		{name: "endpoint without host", opts: telemetry.TracingOptions{OTLPEndpoint: "http://"}, wantErr: true},
		{name: "bare endpoint", opts: telemetry.TracingOptions{OTLPEndpoint: "127.0.0.1:1"}, wantSampled: true},
		{name: "https endpoint", opts: telemetry.TracingOptions{OTLPEndpoint: "https://collector.example:4317"}, wantSampled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := telemetry.NewTracing(context.Background(), tt.opts)
			if tt.wantErr {
				if !errors.Is(err, telemetry.ErrTracingConfig) {
					t.Fatalf("NewTracing err = %v; want ErrTracingConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTracing: %v", err)
			}
			_, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
			span.End()
			sc := span.SpanContext()
			// IDs exist whether or not the span is sampled, so logs can
			// always carry them.
			if !sc.IsValid() {
				t.Errorf("span context %v is not valid", sc)
			}
			if sc.IsSampled() != tt.wantSampled {
				t.Errorf("sampled = %v; want %v", sc.IsSampled(), tt.wantSampled)
			}
			if tt.opts.OTLPEndpoint != "" {
				// Nothing listens there: shutdown gives up at the
				// deadline instead of hanging.
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				start := time.Now()
				_ = tr.Shutdown(ctx)
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("Shutdown took %v; want it bounded by its context", d)
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

func TestParentBasedSamplingFollowsCaller(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{SampleRatio: -1, Exporter: exp})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	// A caller that sampled its trace sends a traceparent with flag 01.
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx := tr.Propagator.Extract(context.Background(), carrier)
	_, span := tr.Provider.Tracer("t").Start(ctx, "child")
	span.End()
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id = %s; want the caller's", got)
	}
	if !span.SpanContext().IsSampled() {
		t.Errorf("child of a sampled parent is not sampled")
	}
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("exported spans = %d; want 1", n)
	}
}

func TestPropagatorCarriesTraceAndBaggage(t *testing.T) {
	t.Parallel()
	tr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	ctx, span := tr.Provider.Tracer("t").Start(context.Background(), "op")
	defer span.End()
	m, err := baggage.NewMember("client_id", "demo-ministry")
	if err != nil {
		t.Fatal(err)
	}
	b, err := baggage.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx = baggage.ContextWithBaggage(ctx, b)
	carrier := propagation.MapCarrier{}
	tr.Propagator.Inject(ctx, carrier)

	out := tr.Propagator.Extract(context.Background(), carrier)
	if got, want := trace.SpanContextFromContext(out).TraceID(), span.SpanContext().TraceID(); got != want {
		t.Errorf("extracted trace id = %s; want %s", got, want)
	}
	if got := baggage.FromContext(out).Member("client_id").Value(); got != "demo-ministry" {
		t.Errorf("baggage client_id = %q; want demo-ministry", got)
	}
}

// collector is a minimal OTLP trace collector.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
	got   chan struct{}
}

func (c *collector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				c.names = append(c.names, "service:"+a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	select {
	case c.got <- struct{}{}:
	default:
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func TestOTLPExport(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{got: make(chan struct{}, 1)}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, col)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	tr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{
		ServiceName:  "signature",
		OTLPEndpoint: "http://" + lis.Addr().String(),
	})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "sign-document")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown flushes the batch to the collector.
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-col.got:
	case <-ctx.Done():
		t.Fatal("collector received nothing")
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	want := map[string]bool{"service:signature": false, "sign-document": false}
	for _, n := range col.names {
		if _, ok := want[n]; ok {
			want[n] = true
		}
	}
	for n, seen := range want {
		if !seen {
			t.Errorf("collector did not receive %q; got %v", n, col.names)
		}
	}
}

func TestShutdownNil(t *testing.T) {
	t.Parallel()
	var tr *telemetry.Tracing
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("nil Shutdown = %v; want nil", err)
	}
}
