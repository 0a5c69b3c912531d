package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lift/sqlite"
	"lift/storetest"
)

func TestPredictionsPrune(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "lift.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPutClip(t, store, storetest.NewClip("c1", 10))
	clip := "c1"
	old := time.Now().Add(-100 * 24 * time.Hour)
	for i := range 4 {
		p := storetest.NewPrediction(&clip)
		p.CreatedAt = old.Add(time.Duration(i) * time.Minute)
		if err := store.RecordPrediction(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	storetest.MustRecordPrediction(t, store, &clip) // now
	// SQLite prunes what its per-clip index holds, which a store merges
	// after a second without writes.
	time.Sleep(2500 * time.Millisecond)
	store.Close()

	db := "sqlite:" + path
	code, out, stderr := run(t, "predictions", "prune", "--older-than", "2160h", "--db", db)
	var rep struct {
		Deleted int64     `json:"deleted"`
		Before  time.Time `json:"before"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Deleted != 4 || time.Since(rep.Before) < 89*24*time.Hour {
		t.Fatalf("prune --older-than 90 days: exit %d, %q %q; want 4 deleted", code, out, stderr)
	}
	if code, out, _ := run(t, "predictions", "prune", "--before", "2000-01-01T00:00:00Z", "--db", db); code != 0 || !strings.Contains(out, `"deleted":0`) {
		t.Errorf("a second prune: exit %d, %q; want 0 deleted", code, out)
	}
	s := MustStartServer(t, nil, "--db", db, "--export", "")
	if _, body := s.Do("GET", "/predictions/summary", nil); body["total"] != 1.0 {
		t.Errorf("summary after the prune = %v, want the one recent prediction", body)
	}
	s.Stop()

	for _, args := range [][]string{
		{"predictions"},
		{"predictions", "trim"},
		{"predictions", "prune"},
		{"predictions", "prune", "--before", "2026-01-01T00:00:00Z", "--older-than", "1h"},
		{"predictions", "prune", "--before", "yesterday"},
		{"predictions", "prune", "--older-than", "-5h"},
		{"predictions", "prune", "--before", "2999-01-01T00:00:00Z"},
	} {
		if code, _, stderr := run(t, append(args, "--db", db)...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, %q; want 2 with a message", args, code, stderr)
		}
	}
	missing := "sqlite:" + filepath.Join(dir, "missing.db")
	if code, _, stderr := run(t, "predictions", "prune", "--older-than", "1h", "--db", missing); code != 1 || !strings.Contains(stderr, "does not exist") {
		t.Errorf("prune of a missing database: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("prune created the missing database")
	}
}

// TestExperimentsPrune: the command's flags and answer; what it deletes
// is tested on both stores (storetest) and with the policy (experiment).
func TestExperimentsPrune(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	if code, _, stderr := run(t, "demo", "--db", db); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := run(t, "experiments", "prune", "--older-than", "2160h", "--db", db)
	if code != 0 {
		t.Fatalf("experiments prune: exit %d: %s", code, stderr)
	}
	var out struct {
		Deleted     int64            `json:"deleted"`
		Experiments map[string]int64 `json:"experiments"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Deleted != 0 || len(out.Experiments) == 0 {
		t.Fatalf("experiments prune answered %q (%v); want every experiment, nothing deleted", stdout, err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--older-than", "30m"}, 2, "at least 1h0m0s in the past"},
		{[]string{"--before", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, 2, "at least 1h0m0s in the past"},
		{[]string{"--older-than", "2h", "--before", "2020-01-01T00:00:00Z"}, 2, "one of --before and --older-than"},
		{[]string{"--older-than", "2h", "--experiment", "no-such"}, 1, "not found"},
		{[]string{"--older-than", "2h", "--experiment", ""}, 2, "needs an experiment id"},
	} {
		code, _, stderr := run(t, append([]string{"experiments", "prune", "--db", db}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("experiments prune %q: exit %d, %q; want exit %d saying %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}
