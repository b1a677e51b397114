// Package telemetry builds the observability plumbing every Tamkeen process
// shares: a log/slog JSON logger whose records carry the active trace and
// span IDs, an OpenTelemetry tracer provider with its propagator (exported
// over OTLP when an endpoint is configured), and a Prometheus registry with
// the way components declare their metrics on it: Instruments (a table of
// counters and histograms, shared by the services of one process, their
// closed label sets present at 0) and ScrapeCollector (values read at
// scrape time, registered with RegisterReplacing).
//
// Nothing here touches OpenTelemetry's or Prometheus' global state: callers
// receive the provider, propagator and registry and pass them on explicitly
// (to grpcserver, the gateway and the events bus), so that several services
// can live in one process (tamkeen dev) and tests stay independent.
package telemetry
