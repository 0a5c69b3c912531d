package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"lift/storetest"
)

// TestServeOnPostgres drives `lift serve --db postgres://...` through the
// seed's calls: put a clip, predict, record an outcome, read it back
// after a restart.
func TestServeOnPostgres(t *testing.T) {
	db := storetest.MustPostgresDSN(t)
	s := MustStartServer(t, nil, "--db", db)

	if code, _ := s.Do("GET", "/readyz", nil); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	if code, body := s.Do("PUT", "/clips/c1", clipBody(22)); code != 201 || body["clip_id"] != "c1" {
		t.Fatalf("PUT new clip = %d %v", code, body)
	}
	code, put := s.Do("PUT", "/clips/c1", clipBody(23))
	if code != 200 {
		t.Fatalf("PUT existing clip = %d, want 200", code)
	}
	// What a write answers is what a later read gives: times as kept.
	if _, got := s.Do("GET", "/clips/c1", nil); got["updated_at"] != put["updated_at"] || got["created_at"] != put["created_at"] {
		t.Errorf("PUT answered times %v / %v, GET %v / %v", put["created_at"], put["updated_at"], got["created_at"], got["updated_at"])
	}
	if code, _ := s.Do("POST", "/experiments", map[string]any{"id": "x", "variants": []map[string]any{{"id": "a"}, {"id": "b"}}}); code != 201 {
		t.Fatalf("create experiment = %d", code)
	}
	_, d := s.Do("POST", "/experiments/x/decide", map[string]any{"event_id": "e1"})
	_, r1 := s.Do("POST", "/experiments/x/rewards", map[string]any{"event_id": d["event_id"], "reward": 1})
	_, r2 := s.Do("POST", "/experiments/x/rewards", map[string]any{"event_id": d["event_id"], "reward": 1})
	if r1["created_at"] == nil || r1["created_at"] != r2["created_at"] {
		t.Errorf("a reward answered created_at %v, and %v when sent again", r1["created_at"], r2["created_at"])
	}
	code, body := s.Do("POST", "/predict/ctr?clip_id=c1", nil)
	if code != 200 || body["clip_id"] != "c1" || body["prediction_id"] == nil {
		t.Fatalf("predict = %d %v", code, body)
	}
	// Heuristic: 0.7*0.05 + 0.5*0.02 = 0.045, medium.
	if ctr, _ := body["predicted_ctr"].(float64); ctr < 0.0449 || ctr > 0.0451 || body["predicted_band"] != "medium" {
		t.Errorf("heuristic prediction = %v", body)
	}
	if code, body := s.Do("POST", "/predict/ctr?clip_id=nope", nil); code != 404 || body["detail"] != "Clip not found" {
		t.Errorf("predict unknown clip = %d %v", code, body)
	}
	if code, body := s.Do("POST", "/clips/c1/outcomes", map[string]any{"impressions": 1000, "clicks": 40}); code != 201 || body["actual_ctr"] != 0.04 {
		t.Errorf("outcome = %d %v", code, body)
	}
	if code, body := s.Do("POST", "/clips/nope/outcomes", map[string]any{"impressions": 10, "clicks": 1}); code != 404 {
		t.Errorf("outcome for an unknown clip = %d %v", code, body)
	}
	if code, body := s.Do("POST", "/clips/c1/outcomes", map[string]any{"impressions": 10, "clicks": 11}); code != 400 {
		t.Errorf("outcome with clicks > impressions = %d %v", code, body)
	}

	s.Stop()
	s = MustStartServer(t, nil, "--db", db)
	if code, body := s.Do("GET", "/clips/c1", nil); code != 200 || body["duration"] != 23.0 || body["impressions"] != 1000.0 || body["actual_ctr"] != 0.04 {
		t.Errorf("after restart GET /clips/c1 = %d %v", code, body)
	}
}

// TestPostgresReplicas runs two servers on one database: a model trained
// through replica A is served by replica B once B polls the registry.
func TestPostgresReplicas(t *testing.T) {
	db := storetest.MustPostgresDSN(t)
	if code, out, stderr := run(t, "demo", "--db", db, "--clips", "800"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, stderr)
	}
	a := MustStartServer(t, nil, "--db", db, "--export", "", "--refresh", "200ms")
	b := MustStartServer(t, nil, "--db", db, "--export", "", "--refresh", "200ms")

	if _, p := b.Do("POST", "/predict/ctr?clip_id=demo-0001", nil); p["model_version"] != nil {
		t.Fatalf("before training replica B serves %v, want the heuristic", p)
	}
	code, sum := a.Do("POST", "/train/ctr-model", nil)
	if code != 200 || sum["success"] != true || sum["promoted"] != true || sum["model_version"] == nil {
		t.Fatalf("train on replica A = %d %v", code, sum)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, p := b.Do("POST", "/predict/ctr?clip_id=demo-0001", nil)
		if p["model_version"] == sum["model_version"] {
			if p["source"] != "model" {
				t.Errorf("replica B answers %v, want source model", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B still serves %v, want %v", p["model_version"], sum["model_version"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Both replicas see the same registry.
	_, la := a.Do("GET", "/models", nil)
	_, lb := b.Do("GET", "/models", nil)
	if ms, _ := la["models"].([]any); len(ms) != 1 || !reflect.DeepEqual(la, lb) {
		t.Errorf("replicas list different registries:\nA %v\nB %v", la, lb)
	}

	// The demo experiment on both: each replica decides, the other takes
	// the reward. Both policies must come to have learnt every reward
	// from the shared log, up to the last one stored.
	var last float64
	for i := range 40 {
		dec, rew := a, b
		if i%2 == 1 {
			dec, rew = b, a
		}
		code, d := dec.Do("POST", "/experiments/demo-thumbnails/decide", map[string]any{"event_id": fmt.Sprint("x", i)})
		if code != 200 {
			t.Fatalf("decide = %d %v", code, d)
		}
		code, r := rew.Do("POST", "/experiments/demo-thumbnails/rewards", map[string]any{"event_id": d["event_id"], "reward": i % 2})
		if code != 200 {
			t.Fatalf("reward on the other replica = %d %v", code, r)
		}
		last = max(last, r["seq"].(float64))
	}
	// A context-free policy's decide may answer from a PMF cached up to 15
	// rewards ago; excluding a different variant on each probe asks for a
	// different variant set, which the one-entry cache never holds.
	_, d0 := a.Do("POST", "/experiments/demo-thumbnails/decide", map[string]any{"event_id": "variants"})
	var variants []string
	for _, r := range d0["ranking"].([]any) {
		variants = append(variants, r.(map[string]any)["variant"].(string))
	}
	if len(variants) < 3 {
		t.Fatalf("the demo experiment has %d variants, want at least 3", len(variants))
	}
	for _, s := range []*server{a, b} {
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; ; i++ {
			_, d := s.Do("POST", "/experiments/demo-thumbnails/decide", map[string]any{"event_id": fmt.Sprint("probe-", s.URL, i),
				"exclude": []string{variants[i%2]}})
			if d["policy_version"] == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s's policy has learnt up to reward %v, want %v", s.URL, d["policy_version"], last)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// TestPostgresWithoutSchema: the commands that only read or change what
// is stored refuse a PostgreSQL database without Lift's schema, as they
// refuse a SQLite file that is not there, and create nothing in it (a
// mistyped search_path naming an empty schema must not get one).
func TestPostgresWithoutSchema(t *testing.T) {
	db := storetest.MustPostgresDSN(t) // an empty schema
	if code, _, stderr := run(t, "models", "list", "--db", db); code != 1 || !strings.Contains(stderr, "no Lift schema") {
		t.Errorf("models list on an empty schema: exit %d, %q", code, stderr)
	}
	if code, out, stderr := run(t, "train", "--db", db, "--export", ""); code != 1 || out != "" || !strings.Contains(stderr, "no Lift schema") {
		t.Errorf("train on an empty schema: exit %d, %s %q; want exit 1 saying there is no schema", code, out, stderr)
	}
	if code, out, stderr := run(t, "models", "list", "--db", db); code != 1 {
		t.Errorf("models list after the refused commands: exit %d, %s %s: they created the schema", code, out, stderr)
	}
	if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: exit %d, %s", code, stderr)
	}
	if code, out, stderr := run(t, "models", "list", "--db", db); code != 0 || !strings.Contains(out, `"models":[]`) {
		t.Errorf("models list after migrate: exit %d, %s %s", code, out, stderr)
	}
}
