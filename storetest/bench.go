package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lift"
	"lift/internal/cputime"
)

// BenchRecordPrediction records predictions for 300 clips from 16
// clients per core, as the HTTP server does under load: each op is one
// RecordPrediction, acknowledged once durable, so the stores' group
// commits and syncs are what it measures. It reports the process's CPU
// time per op (a PostgreSQL server's own work is not in it) and the 99th
// percentile of the ops' latencies, where the writer's pauses show.
func BenchRecordPrediction(b *testing.B, s lift.PredictionStore, clips lift.ClipStore) {
	ctx := context.Background()
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
		if _, err := clips.PutClip(ctx, &lift.Clip{ID: ids[i], Duration: 10}); err != nil {
			b.Fatal(err)
		}
	}
	var (
		n    atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
	)
	b.ResetTimer()
	cputime.RunParallel(b, 16, func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := s.RecordPrediction(ctx, NewPrediction(&ids[n.Add(1)%int64(len(ids))])); err != nil {
				b.Fatal(err)
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lats = append(lats, mine...)
		mu.Unlock()
	})
	if len(lats) > 0 {
		slices.Sort(lats)
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-us")
	}
}
