package telemetry_test

import (
	"testing"

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
