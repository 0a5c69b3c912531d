//go:build !unix

package httpapi

import "time"

// processCPU is unknown here: the benchmarks report 0 CPU per op.
func processCPU() time.Duration { return 0 }
