package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"lift/sqlite"
	"lift/storetest"
)

// MustOpen opens a fresh database file in the test's temporary directory.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return sqlite.MustOpenAt(tb, filepath.Join(tb.TempDir(), "lift.db"))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return MustOpen(t) })
}

// TestLockExpiresWithClock moves the store's clock past a lease's TTL: a
// crashed holder blocks others for at most the TTL.
func TestLockExpiresWithClock(t *testing.T) {
	db := MustOpen(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		holder  string
		want    bool
	}{
		{0, "a", true},
		{59 * time.Second, "b", false},
		{2 * time.Second, "b", true},
		{0, "a", false},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		ok, err := db.TryLock(ctx, "train", st.holder, time.Minute)
		if err != nil || ok != st.want {
			t.Fatalf("step %d: TryLock(%s) = %v, %v; want %v", i, st.holder, ok, err, st.want)
		}
	}
}

func BenchmarkRecordPrediction(b *testing.B) {
	db := MustOpen(b)
	storetest.BenchRecordPrediction(b, db, db)
}
