package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestCPUBetweenSharesByName sums processes of one name, names this run,
// counts a process that started during the run and leaves out the idle.
func TestCPUBetweenSharesByName(t *testing.T) {
	a := cpuSample{busy: 1000, total: 2000, procs: map[int]procTicks{
		10: {"postgres", 100}, 11: {"postgres", 50}, 20: {"gateway", 300}, 30: {"idle", 7}, 99: {"tamkeen", 5},
	}}
	b := cpuSample{busy: 1150, total: 2200, procs: map[int]procTicks{
		10: {"postgres", 130}, 11: {"postgres", 70}, 12: {"postgres", 10}, 20: {"gateway", 360}, 30: {"idle", 7}, 99: {"tamkeen", 25},
	}}
	got := cpuBetween(a, b, 1, 99)
	if got == nil {
		t.Fatal("no share")
	}
	want := []procCPUs{{"gateway", 0.6}, {"postgres", 0.6}, {"tamkeen load (this run)", 0.2}}
	if len(got.Processes) != len(want) {
		t.Fatalf("processes = %+v; want %+v", got.Processes, want)
	}
	for i, w := range want {
		if g := got.Processes[i]; g.Name != w.Name || g.Cores < w.Cores-1e-9 || g.Cores > w.Cores+1e-9 {
			t.Errorf("process %d = %+v; want %+v", i, g, w)
		}
	}
	if got.Cores > 0 && (got.BusyCores <= 0 || got.BusyCores > float64(got.Cores)) {
		t.Errorf("busy cores %v of %d", got.BusyCores, got.Cores)
	}
}

// TestSampleCPUSeesThisProcess burns some CPU between two real samples
// of /proc and finds it under this process.
func TestSampleCPUSeesThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	a, ok := sampleCPU()
	if !ok {
		t.Fatal("no /proc/stat")
	}
	start := time.Now()
	x := 0
	for time.Since(start) < 300*time.Millisecond {
		x++
	}
	b, _ := sampleCPU()
	share := cpuBetween(a, b, time.Since(start).Seconds(), os.Getpid())
	if share == nil || share.Cores < 1 {
		t.Fatalf("share = %+v", share)
	}
	for _, p := range share.Processes {
		if p.Name == "tamkeen load (this run)" {
			if p.Cores < 0.05 {
				t.Errorf("this process used %.2f cores while spinning; want most of one", p.Cores)
			}
			return
		}
	}
	t.Errorf("this process is not in %+v (spun %d times)", share.Processes, x)
}
