package telemetry

import (
	"flag"
	"log/slog"
	"math"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
)

func TestConfig(t *testing.T) {
	var cfg struct{ Config }
	env := map[string]string{"TAMKEEN_OTLP_ENDPOINT": "collector:4317"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := config.Load(&cfg, flag.NewFlagSet("t", flag.ContinueOnError), []string{"--log-level", "debug"}, lookup); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.LogLevel != slog.LevelDebug || cfg.OTLPEndpoint != "collector:4317" || cfg.TraceSampleRatio != 1 {
		t.Fatalf("got %+v; want debug, the env's collector, ratio 1", cfg.Config)
	}
	if got := cfg.TracingOptions("tamkeen-x"); got.ServiceName != "tamkeen-x" || got.OTLPEndpoint != "collector:4317" || got.SampleRatio != 1 {
		t.Errorf("TracingOptions = %+v", got)
	}
	for _, r := range []float64{-0.1, 1.5, math.NaN()} {
		if (Config{TraceSampleRatio: r}).SampleRatioProblem() == "" {
			t.Errorf("ratio %v accepted; want a problem", r)
		}
	}
	for _, r := range []float64{0, 0.25, 1} {
		if p := (Config{TraceSampleRatio: r}).SampleRatioProblem(); p != "" {
			t.Errorf("ratio %v: %q; want no problem", r, p)
		}
	}
}
