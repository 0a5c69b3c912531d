package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"lift"
	"lift/internal/cputime"
)

// BenchRecordPrediction records predictions for 300 clips from 16
// clients per core, as the HTTP server does under load: each op is one
// RecordPrediction, acknowledged once durable, so the stores' group
// commits and syncs are what it measures. It reports the process's CPU
// time per op too (a PostgreSQL server's own work is not in it).
func BenchRecordPrediction(b *testing.B, s lift.PredictionStore, clips lift.ClipStore) {
	ctx := context.Background()
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
		if _, err := clips.PutClip(ctx, &lift.Clip{ID: ids[i], Duration: 10}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	cputime.RunParallel(b, 16, func(pb *testing.PB) {
		for pb.Next() {
			if err := s.RecordPrediction(ctx, NewPrediction(&ids[n.Add(1)%int64(len(ids))])); err != nil {
				b.Fatal(err)
			}
		}
	})
}
