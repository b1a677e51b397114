package telemetry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a fresh Prometheus registry with the Go runtime and
// process collectors registered. Each process builds one and hands it to
// the components that export metrics and to the /metrics handler, instead of
// using prometheus.DefaultRegisterer.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// MustRegister cannot fail here: the registry is new and the two
	// collectors describe disjoint metric names.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// RegisterOrReuse registers c on reg, or returns the collector of the same
// description that is already registered there: how the services of one
// process share a metric. A nil reg registers nowhere.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register metrics: %w", err)
}
