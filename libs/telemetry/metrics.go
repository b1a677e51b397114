package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

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

// RegisterReplacing registers c on reg, replacing the collector of the
// same description already there: for a collector that reads one
// component's state at scrape time (a database, a connection), of which a
// process reports the latest one built. A nil reg registers nowhere.
func RegisterReplacing(reg prometheus.Registerer, c prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	return err
}

// Instruments registers a component's instruments on one registry, each
// with RegisterOrReuse, so that a component's metrics are declared as a
// table of names, help texts and labels. The first failure is kept (Err):
// the instruments asked for after it are made but registered nowhere, so
// that the caller checks once, at the end.
type Instruments struct {
	reg prometheus.Registerer
	err error
}

// NewInstruments registers on reg (nil: nowhere).
func NewInstruments(reg prometheus.Registerer) *Instruments {
	return &Instruments{reg: reg}
}

// Err is the first registration failure, or nil.
func (in *Instruments) Err() error { return in.err }

// Counter registers a counter.
func (in *Instruments) Counter(name, help string) prometheus.Counter {
	return register(in, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec registers a counter vector with labels. values, when given,
// are the closed sets of the labels' values, in the labels' order: every
// combination is created at 0, so that rate() and absent() work before
// the first event.
func (in *Instruments) CounterVec(name, help string, labels []string, values ...[]string) *prometheus.CounterVec {
	v := register(in, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	if len(values) > 0 {
		eachCombination(values, func(lvs []string) { v.WithLabelValues(lvs...) })
	}
	return v
}

// HistogramVec registers a histogram vector with buckets and labels.
func (in *Instruments) HistogramVec(name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
	return register(in, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}

// Replacing registers c with RegisterReplacing.
func (in *Instruments) Replacing(c prometheus.Collector) {
	if in.err == nil {
		in.err = RegisterReplacing(in.reg, c)
	}
}

func register[C prometheus.Collector](in *Instruments, c C) C {
	if in.err != nil {
		return c
	}
	c, in.err = RegisterOrReuse(in.reg, c)
	return c
}

// eachCombination calls fn with every combination of one value of each
// set, in order (the last set varies fastest). fn must not keep lvs.
func eachCombination(sets [][]string, fn func(lvs []string)) {
	lvs := make([]string, len(sets))
	var walk func(i int)
	walk = func(i int) {
		if i == len(sets) {
			fn(lvs)
			return
		}
		for _, v := range sets[i] {
			lvs[i] = v
			walk(i + 1)
		}
	}
	walk(0)
}

// OrUnscraped is what register builds on reg; when that fails (another
// collector took a name) the failure is logged as what (e.g. "auth:
// metrics not registered") and the instruments are built on a registry
// nobody scrapes instead: the component runs uncounted rather than not at
// all.
func OrUnscraped[M any](reg prometheus.Registerer, log *slog.Logger, what string, register func(prometheus.Registerer) (M, error)) M {
	m, err := register(reg)
	if err != nil {
		log.Warn(what, slog.String("error", err.Error()))
		m, _ = register(prometheus.NewRegistry())
	}
	return m
}

// ScrapeCollector reports values read when the registry is scraped (from
// a database, a connection's state) rather than counted as they happen.
// Read sends a constant metric for each of Descs that has a value now,
// under a context that ends after Timeout (none when 0); a value it
// cannot read it leaves out (a scrape must not fail because of it, and
// the missing series is itself the alert).
type ScrapeCollector struct {
	Descs   []*prometheus.Desc
	Timeout time.Duration
	Read    func(ctx context.Context, ch chan<- prometheus.Metric)
}

// Describe sends Descs.
func (c *ScrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.Descs {
		ch <- d
	}
}

// Collect calls Read.
func (c *ScrapeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	c.Read(ctx, ch)
}

// HandleProfiles serves the runtime's /debug/pprof/ profiles on mux. Only
// an operators' listener may carry them (the gateway's ops address, a
// service's metrics address): they show the process's internals.
func HandleProfiles(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
