package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// decodeLines parses one JSON object per log line.
func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLoggerAddsServiceAndTraceIDs(t *testing.T) {
	t.Parallel()
	tr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{ServiceName: "payment", Exporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	ctx, span := tr.Provider.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	traceID := span.SpanContext().TraceID().String()
	spanID := span.SpanContext().SpanID().String()

	tests := []struct {
		name      string
		log       func(l *slog.Logger)
		wantTrace bool
		check     func(t *testing.T, m map[string]any)
	}{
		{
			name:      "context with span",
			log:       func(l *slog.Logger) { l.InfoContext(ctx, "hello", "k", "v") },
			wantTrace: true,
		},
		{
			name: "no context",
			log:  func(l *slog.Logger) { l.Info("hello") },
		},
		{
			name: "context without span",
			log:  func(l *slog.Logger) { l.InfoContext(context.Background(), "hello") },
		},
		{
			name:      "ids stay top level under a group",
			log:       func(l *slog.Logger) { l.With("a", 1).WithGroup("req").With("b", 2).InfoContext(ctx, "hello", "c", 3) },
			wantTrace: true,
			check: func(t *testing.T, m map[string]any) {
				req, ok := m["req"].(map[string]any)
				if !ok || req["b"] != float64(2) || req["c"] != float64(3) {
					t.Errorf("req group = %v; want b=2 and c=3 inside", m["req"])
				}
				if m["a"] != float64(1) {
					t.Errorf("a = %v; want 1 at top level", m["a"])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(telemetry.NewLogger(&buf, telemetry.LoggerOptions{Service: "payment"}))
			lines := decodeLines(t, buf.Bytes())
			if len(lines) != 1 {
				t.Fatalf("got %d lines; want 1: %s", len(lines), buf.String())
			}
			m := lines[0]
			if m["service"] != "payment" {
				t.Errorf("service = %v; want payment", m["service"])
			}
			if tt.wantTrace {
				if m["trace_id"] != traceID || m["span_id"] != spanID {
					t.Errorf("trace_id, span_id = %v, %v; want %s, %s", m["trace_id"], m["span_id"], traceID, spanID)
				}
			} else if _, ok := m["trace_id"]; ok {
				t.Errorf("trace_id = %v; want none", m["trace_id"])
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestLoggerLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		level slog.Leveler
		want  int
	}{
		{name: "default info drops debug", level: nil, want: 2},
		{name: "debug keeps all", level: slog.LevelDebug, want: 3},
		{name: "warn keeps warn", level: slog.LevelWarn, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := telemetry.NewLogger(&buf, telemetry.LoggerOptions{Level: tt.level})
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			if got := len(decodeLines(t, buf.Bytes())); got != tt.want {
				t.Errorf("lines = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestTraceHandlerIsIdempotent(t *testing.T) {
	t.Parallel()
	h := telemetry.TraceHandler(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	if again := telemetry.TraceHandler(h); again != h {
		t.Errorf("TraceHandler(TraceHandler(h)) wrapped twice")
	}
}
