package main

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// cpuShare is where the machine's processor time went during a run: how
// busy all its cores were and how many cores each process name used (the
// enablers, the gateway, PostgreSQL's backends summed, NATS, this load
// generator). On a machine whose cores the load generator shares with
// what it measures, this is what tells a rate limited by the machine from
// one limited by waiting. Read from /proc at the start and the end of the
// run; processes that ended during it are not counted.
type cpuShare struct {
	Cores     int        `json:"cores"`
	BusyCores float64    `json:"busy_cores"`
	Processes []procCPUs `json:"processes"`
}

// procCPUs is the cores one process name used on average.
type procCPUs struct {
	Name  string  `json:"name"`
	Cores float64 `json:"cores"`
}

// cpuSample is one reading of /proc: the machine's busy and total ticks
// and each process's ticks (user + system) by pid.
type cpuSample struct {
	cores       int
	busy, total uint64
	procs       map[int]procTicks
}

type procTicks struct {
	name  string
	ticks uint64
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// sampleCPU reads /proc; ok is false where there is no /proc/stat.
func sampleCPU() (cpuSample, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, false
	}
	lines := strings.Split(string(b), "\n")
	f := strings.Fields(lines[0])
	if len(f) < 5 || f[0] != "cpu" {
		return cpuSample{}, false
	}
	s := cpuSample{procs: map[int]procTicks{}}
	for _, l := range lines[1:] {
		if len(l) > 3 && strings.HasPrefix(l, "cpu") && l[3] >= '0' && l[3] <= '9' {
			s.cores++ // cpu0, cpu1, …: the online cores
		}
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i != 3 && i != 4 { // idle and iowait
			s.busy += n
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if t, ok := readProcTicks(d); ok {
			s.procs[pid] = t
		}
	}
	return s, true
}

// readProcTicks reads a /proc/<pid>/stat: the command name and utime +
// stime.
func readProcTicks(path string) (procTicks, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procTicks{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 > len(b) {
		return procTicks{}, false
	}
	f := strings.Fields(string(b[end+2:]))
	if len(f) < 13 {
		return procTicks{}, false
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return procTicks{name: string(b[open+1 : end]), ticks: u + st}, true
}

// cpuBetween is the share of each process name between two samples taken
// seconds apart, the busiest first, leaving out those under 0.01 cores.
func cpuBetween(a, b cpuSample, seconds float64, self int) *cpuShare {
	if seconds <= 0 || b.total <= a.total {
		return nil
	}
	sum := map[string]uint64{}
	for pid, t := range b.procs {
		name := t.name
		if pid == self {
			name = "tamkeen load (this run)"
		}
		if before, ok := a.procs[pid]; ok && before.ticks <= t.ticks {
			sum[name] += t.ticks - before.ticks
		} else if !ok {
			sum[name] += t.ticks // started during the run
		}
	}
	out := &cpuShare{Cores: b.cores, BusyCores: float64(b.cores) * float64(b.busy-a.busy) / float64(b.total-a.total)}
	for name, ticks := range sum {
		if c := float64(ticks) / clockTicks / seconds; c >= 0.01 {
			out.Processes = append(out.Processes, procCPUs{Name: name, Cores: c})
		}
	}
	slices.SortFunc(out.Processes, func(x, y procCPUs) int {
		return cmp.Or(cmp.Compare(y.Cores, x.Cores), strings.Compare(x.Name, y.Name))
	})
	return out
}
