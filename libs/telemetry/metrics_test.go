package telemetry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

func TestNewRegistryHasRuntimeAndProcessMetrics(t *testing.T) {
	t.Parallel()
	mfs, err := telemetry.NewRegistry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	want := map[string]bool{"go_goroutines": false, "process_cpu_seconds_total": false}
	for _, mf := range mfs {
		if _, ok := want[mf.GetName()]; ok {
			want[mf.GetName()] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("metric %s missing", name)
		}
	}
	// Two registries are independent: both can hold the same collectors.
	if _, err := telemetry.NewRegistry().Gather(); err != nil {
		t.Errorf("second registry Gather: %v", err)
	}
}

// TestInstruments declares a table of instruments on a registry: the
// closed label sets are there at 0, a second declaration on the same
// registry shares the first one's instruments, and a name taken with
// other labels is the first failure, after which nothing more is
// registered.
func TestInstruments(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	declare := func(reg prometheus.Registerer) (*telemetry.Instruments, prometheus.Counter, *prometheus.CounterVec, *prometheus.HistogramVec) {
		in := telemetry.NewInstruments(reg)
		return in,
			in.Counter("t_lockouts_total", "Locks."),
			in.CounterVec("t_logins_total", "Logins.", []string{"method", "outcome"}, []string{"password", "oidc"}, []string{"success", "locked", "error"}),
			in.HistogramVec("t_seconds", "Time.", []float64{0.1, 1}, []string{"service"})
	}
	in1, lockouts1, logins1, _ := declare(reg)
	in2, lockouts2, logins2, seconds2 := declare(reg)
	if in1.Err() != nil || in2.Err() != nil {
		t.Fatalf("Err = %v, %v; want nil, nil", in1.Err(), in2.Err())
	}
	if got := testutil.CollectAndCount(logins1, "t_logins_total"); got != 6 {
		t.Errorf("t_logins_total has %d series; want 6 (2 methods × 3 outcomes at 0)", got)
	}
	lockouts2.Inc()
	logins2.WithLabelValues("oidc", "locked").Inc()
	seconds2.WithLabelValues("echo").Observe(0.5)
	if got := testutil.ToFloat64(lockouts1); got != 1 {
		t.Errorf("first declaration's lockouts = %v; want 1 (shared with the second)", got)
	}
	if got := testutil.ToFloat64(logins1.WithLabelValues("oidc", "locked")); got != 1 {
		t.Errorf("first declaration's oidc/locked logins = %v; want 1", got)
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP t_seconds Time.
# TYPE t_seconds histogram
t_seconds_bucket{service="echo",le="0.1"} 0
t_seconds_bucket{service="echo",le="1"} 1
t_seconds_bucket{service="echo",le="+Inf"} 1
t_seconds_sum{service="echo"} 0.5
t_seconds_count{service="echo"} 1
`), "t_seconds")
	if err != nil {
		t.Errorf("t_seconds: %v", err)
	}

	in := telemetry.NewInstruments(reg)
	in.CounterVec("t_logins_total", "Logins.", []string{"outcome"}) // other labels
	late := in.Counter("t_late_total", "Asked for after the failure.")
	if in.Err() == nil {
		t.Fatal("Err = nil after t_logins_total with other labels; want the conflict")
	}
	late.Inc()
	if got := testutil.CollectAndCount(reg, "t_late_total"); got != 0 {
		t.Errorf("t_late_total is on the registry (%d series); want nothing registered after the first failure", got)
	}

	nowhere := telemetry.NewInstruments(nil)
	nowhere.CounterVec("t_logins_total", "Logins.", []string{"outcome"}).WithLabelValues("x").Inc()
	if nowhere.Err() != nil {
		t.Errorf("nil registry: Err = %v; want nil", nowhere.Err())
	}
}

// TestRegisterReplacing: a second collector of the same description
// replaces the first; a collector of another description under a taken
// name is refused.
func TestRegisterReplacing(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	desc := prometheus.NewDesc("t_bound", "1 while bound.", []string{"provider"}, nil)
	gauge := func(v float64) prometheus.Collector {
		return &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{desc}, Read: func(_ context.Context, ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, "smpp")
		}}
	}
	for _, v := range []float64{0, 1} {
		if err := telemetry.RegisterReplacing(reg, gauge(v)); err != nil {
			t.Fatalf("RegisterReplacing(%v): %v", v, err)
		}
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP t_bound 1 while bound.
# TYPE t_bound gauge
t_bound{provider="smpp"} 1
`))
	if err != nil {
		t.Errorf("after the second collector: %v", err)
	}
	other := prometheus.NewDesc("t_bound", "1 while bound.", []string{"link"}, nil)
	c := &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{other}, Read: func(context.Context, chan<- prometheus.Metric) {}}
	if err := telemetry.RegisterReplacing(reg, c); err == nil {
		t.Error("RegisterReplacing of t_bound with another label = nil; want an error")
	}
	in := telemetry.NewInstruments(reg)
	if in.Replacing(c); in.Err() == nil {
		t.Error("Instruments.Replacing of t_bound with another label: Err = nil; want an error")
	}
	if err := telemetry.RegisterReplacing(nil, gauge(2)); err != nil {
		t.Errorf("RegisterReplacing(nil) = %v; want nil", err)
	}
}

// TestScrapeCollector reads at each scrape, under a deadline when it has
// a Timeout.
func TestScrapeCollector(t *testing.T) {
	t.Parallel()
	desc := prometheus.NewDesc("t_age_seconds", "Age.", nil, nil)
	for _, timeout := range []time.Duration{0, time.Minute} {
		reads := 0
		c := &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{desc}, Timeout: timeout,
			Read: func(ctx context.Context, ch chan<- prometheus.Metric) {
				reads++
				if _, ok := ctx.Deadline(); ok != (timeout > 0) {
					t.Errorf("timeout %v: context has a deadline: %v", timeout, ok)
				}
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(reads))
			}}
		if got := testutil.ToFloat64(c); got != 1 {
			t.Errorf("timeout %v: first scrape = %v; want 1", timeout, got)
		}
		if got := testutil.ToFloat64(c); got != 2 {
			t.Errorf("timeout %v: second scrape = %v; want 2 (read again)", timeout, got)
		}
	}
}

// TestOrUnscraped: a failing registration is logged and the instruments
// are built again on a registry of their own.
func TestOrUnscraped(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "t_sends_total", Help: "Taken."}))
	build := func(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
		in := telemetry.NewInstruments(reg)
		v := in.CounterVec("t_sends_total", "Sends.", []string{"channel"}, []string{"sms"})
		return v, in.Err()
	}
	var logs bytes.Buffer
	v := telemetry.OrUnscraped(reg, telemetry.NewLogger(&logs, telemetry.LoggerOptions{}), "t: metrics not registered", build)
	if v == nil {
		t.Fatal("OrUnscraped = nil; want instruments on a registry of their own")
	}
	v.WithLabelValues("sms").Inc()
	if got := testutil.ToFloat64(v.WithLabelValues("sms")); got != 1 {
		t.Errorf("sms sends = %v; want 1", got)
	}
	if !strings.Contains(logs.String(), `"msg":"t: metrics not registered"`) {
		t.Errorf("logs = %s; want the failure logged", logs.String())
	}
	logs.Reset()
	if got := telemetry.OrUnscraped(prometheus.NewRegistry(), telemetry.NewLogger(&logs, telemetry.LoggerOptions{}), "t: metrics not registered", build); got == nil || logs.Len() != 0 {
		t.Errorf("free registry: got %v, logs %q; want instruments and no log", got, logs.String())
	}
}
