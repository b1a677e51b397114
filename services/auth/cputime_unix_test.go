//go:build unix

package auth

import "syscall"

// processCPU is the CPU time (user and system) the process has used, in
// nanoseconds: on a shared machine a benchmark's CPU per operation is
// steadier than its wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
