//go:build unix

// Package cputime reads the CPU time the process has used, for
// benchmarks that report what an operation costs beside how long it took.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time (user and system) the process has used, or 0
// if it cannot be read.
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
