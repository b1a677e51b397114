package telemetry

import (
	"io"
	"log/slog"
	"math"
)

// Config is the logging and tracing settings every Tamkeen process has
// (an enabler, the gateway, `tamkeen dev`), for its config struct to embed
// (loaded by libs/config), so that they are spelt, defaulted and checked
// the same way everywhere.
type Config struct {
	LogLevel         slog.Level `flag:"log-level" default:"info" usage:"minimum log level: debug, info, warn or error"`
	OTLPEndpoint     string     `flag:"otlp-endpoint" usage:"OTLP/gRPC trace collector, e.g. http://otel-collector:4317; empty: no export"`
	TraceSampleRatio float64    `flag:"trace-sample-ratio" default:"1" usage:"fraction of new traces sampled"`
}

// SampleRatioProblem is what is wrong with TraceSampleRatio, or "" when it
// is a fraction; the config's Validate reports it under the flag's name.
func (f Config) SampleRatioProblem() string {
	if math.IsNaN(f.TraceSampleRatio) || f.TraceSampleRatio < 0 || f.TraceSampleRatio > 1 {
		return "must be between 0 and 1"
	}
	return ""
}

// Logger is the process's logger for service at the configured level.
func (f Config) Logger(w io.Writer, service string) *slog.Logger {
	return NewLogger(w, LoggerOptions{Level: f.LogLevel, Service: service})
}

// TracingOptions are the options of NewTracing for serviceName with the
// configured collector and sample ratio; a caller may add an Exporter.
func (f Config) TracingOptions(serviceName string) TracingOptions {
	return TracingOptions{ServiceName: serviceName, OTLPEndpoint: f.OTLPEndpoint, SampleRatio: f.TraceSampleRatio}
}
