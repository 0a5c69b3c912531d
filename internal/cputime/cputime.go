package cputime

import (
	"testing"
)

// RunParallel is b.RunParallel with clients goroutines per core (as
// b.SetParallelism), and reports the process's CPU time per op as
// "cpu-us/op": where the time per op moves with the load of other
// tenants of a shared machine, this shows what one op costs.
func RunParallel(b *testing.B, clients int, body func(*testing.PB)) {
	b.SetParallelism(clients)
	start := Process()
	b.RunParallel(body)
	b.ReportMetric(float64((Process()-start).Microseconds())/float64(b.N), "cpu-us/op")
}
