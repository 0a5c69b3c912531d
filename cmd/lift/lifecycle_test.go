package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lift/sqlite"
)

// TestMain lets a test run `lift` as a real child process (the test
// binary re-executed), so a crash can be a real SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("LIFT_TEST_MAIN_ARGS"); args != "" {
		mm := NewMain()
		mm.Stdin, mm.Stdout, mm.Stderr, mm.Getenv = os.Stdin, os.Stdout, os.Stderr, os.Getenv
		os.Exit(mm.Exec(context.Background(), strings.Split(args, "\x1f")))
	}
	os.Exit(m.Run())
}

// liftProcess starts `lift args...` as a child process.
func liftProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LIFT_TEST_MAIN_ARGS="+strings.Join(args, "\x1f"))
	return cmd
}

func TestModelLifecycleOverHTTP(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	export := filepath.Join(dir, "models", "ctr_predictor.json")
	if code, out, stderr := run(t, "demo", "--db", db, "--clips", "1500"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, stderr)
	}
	s := MustStartServer(t, nil, "--db", db, "--export", export)
	_, before := s.Do("POST", "/predict/ctr?clip_id=demo-0007", nil)
	if before["source"] != "heuristic" || before["model_version"] != nil {
		t.Fatalf("before training: %v", before)
	}

	code, sum := s.Do("POST", "/train/ctr-model", nil)
	if code != 200 || sum["success"] != true || sum["promoted"] != true || sum["message"] != "Model trained" {
		t.Fatalf("train = %d %v", code, sum)
	}
	v1 := sum["model_version"].(float64)
	metrics := sum["metrics"].(map[string]any)
	if metrics["holdout_logloss"].(float64) >= metrics["heuristic_logloss"].(float64) {
		t.Errorf("trained model does not beat the heuristic: %v", metrics)
	}
	if _, err := os.Stat(export); err != nil {
		t.Errorf("promotion did not export %s: %v", export, err)
	}
	_, after := s.Do("POST", "/predict/ctr?clip_id=demo-0007", nil)
	if after["source"] != "model" || after["model_version"] != v1 || after["predicted_ctr"] == before["predicted_ctr"] {
		t.Errorf("after training: %v", after)
	}
	if ex, _ := after["explanation"].([]any); len(ex) == 0 {
		t.Errorf("prediction has no explanation: %v", after)
	}
	iv := after["ctr_interval"].([]any)
	if iv[0].(float64) > after["predicted_ctr"].(float64) || iv[1].(float64) < after["predicted_ctr"].(float64) || iv[1].(float64) >= 1 {
		t.Errorf("interval %v around %v", iv, after["predicted_ctr"])
	}

	// A weak challenger is kept but not promoted.
	code, weak := s.Do("POST", "/train/ctr-model", `{"rounds": 1, "eta": 0.01, "early_stopping": 0}`)
	if code != 200 || weak["promoted"] != false || weak["success"] != true {
		t.Fatalf("weak train = %d %v", code, weak)
	}
	v2 := weak["model_version"].(float64)
	code, list := s.Do("GET", "/models", nil)
	if ms := list["models"].([]any); code != 200 || len(ms) != 2 || ms[1].(map[string]any)["active"] != true {
		t.Fatalf("GET /models = %d %v", code, list)
	}
	if code, m := s.Do("GET", fmt.Sprintf("/models/%d", int(v2)), nil); code != 200 || m["active"] != false || m["metrics"] == nil {
		t.Errorf("GET /models/v2 = %d %v", code, m)
	}
	if code, _ := s.Do("GET", "/models/99", nil); code != 404 {
		t.Errorf("GET /models/99 = %d", code)
	}
	if code, _ := s.Do("GET", "/models/abc", nil); code != 400 {
		t.Errorf("GET /models/abc = %d", code)
	}
	if code, body := s.Do("POST", "/train/ctr-model", `{"rounds": "many"}`); code != 400 {
		t.Errorf("bad train params = %d %v", code, body)
	}

	// Activation takes no body: a field in one is refused, and nothing changes.
	if code, body := s.Do("POST", fmt.Sprintf("/models/%d/activate", int(v2)), `{"force": true}`); code != 400 || body["code"] != "invalid" {
		t.Errorf("activate with a body = %d %v, want 400", code, body)
	}
	if _, p := s.Do("POST", "/predict/ctr?clip_id=demo-0007", nil); p["model_version"] != v1 {
		t.Errorf("a refused activation changed the served model to %v", p["model_version"])
	}

	// Rollforward to the weak model, then roll back.
	for _, v := range []float64{v2, v1} {
		if code, m := s.Do("POST", fmt.Sprintf("/models/%d/activate", int(v)), nil); code != 200 || m["active"] != true {
			t.Fatalf("activate %v = %d %v", v, code, m)
		}
		if _, p := s.Do("POST", "/predict/ctr?clip_id=demo-0007", nil); p["model_version"] != v {
			t.Errorf("after activating v%v the prediction carries %v", v, p["model_version"])
		}
	}

	// Predictions recorded before outcomes get actual_ctr when they arrive.
	if code, _ := s.Do("PUT", "/clips/fresh", clipBody(30)); code != 201 {
		t.Fatal("PUT fresh clip failed")
	}
	s.Do("POST", "/predict/ctr?clip_id=fresh", nil)
	s.Do("POST", "/predict/ctr?clip_id=fresh", nil)
	s.Do("POST", "/clips/fresh/outcomes", map[string]any{"impressions": 200, "clicks": 9})
	s.Stop()
	store, err := sqlite.Open(context.Background(), strings.TrimPrefix(db, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n, err := store.CountPredictionsWithActual(context.Background(), "fresh")
	if err != nil || n != 2 {
		t.Errorf("predictions of a clip with actual_ctr after its outcome = %d, %v; want 2", n, err)
	}
}

func TestTrainCommandAndReplicaPickup(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	run(t, "demo", "--db", db, "--clips", "800")
	served := filepath.Join(dir, "served", "model.json")
	s := MustStartServer(t, nil, "--db", db, "--export", served, "--refresh", "200ms")

	code, out, stderr := run(t, "train", "--db", db, "--export", filepath.Join(dir, "m.json"))
	var sum map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum["promoted"] != true {
		t.Fatalf("lift train: %d %q %q", code, out, stderr)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("stdout is not one JSON line: %q", out)
	}
	// The running server picks the new active model up by polling.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, p := s.Do("POST", "/predict/ctr?clip_id=demo-0001", nil)
		if p["model_version"] == sum["model_version"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still serves %v, want %v", p["model_version"], sum["model_version"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	// ...and exports it to its own --export path, as it would a model it
	// promoted itself (just after it starts serving it).
	want := mustReadFile(t, filepath.Join(dir, "m.json"))
	for {
		got, _ := os.ReadFile(served)
		if string(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's export (%d bytes) is not the model it picked up (%d bytes)", len(got), len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Not enough data is a success exit that says so.
	empty := "sqlite:" + filepath.Join(dir, "empty.db")
	if code, _, stderr := run(t, "migrate", "--db", empty); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	code, out, stderr = run(t, "train", "--db", empty)
	if code != 0 || !strings.Contains(out, `"success":false`) || !strings.Contains(stderr, "Not enough data") {
		t.Errorf("train on empty db: %d %q %q", code, out, stderr)
	}
	if code, _, _ := run(t, "train", "--preset", "fancy"); code != 2 {
		t.Errorf("bad preset: exit %d, want 2", code)
	}
}

func TestModelsImportCorruptFile(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	for name, body := range map[string]string{
		"truncated.json":      `{"learner":{"gradient_booster":`,
		"not-json.json":       "hello",
		"wrong-features.json": mustReadFile(t, "../../../shared/data/xgb_reference_model.json"),
	} {
		p := writeFile(t, name, body)
		code, _, stderr := run(t, "models", "import", p, "--db", db)
		if code != 1 || stderr == "" {
			t.Errorf("%s: exit %d %q, want 1 with a message", name, code, stderr)
		}
	}
	// The bad imports created no database; once there is one, its
	// registry is empty.
	if _, err := os.Stat(filepath.Join(dir, "lift.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bad imports created the database: %v", err)
	}
	if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	code, out, _ := run(t, "models", "list", "--db", db)
	if code != 0 || !strings.Contains(out, `"models":[]`) {
		t.Errorf("registry after bad imports: %s", out)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTrainerCrashLeavesServingIntact kills `lift train` with SIGKILL in
// the middle of boosting: the registry, the exported file and what a
// server serves must be exactly as before, and the next trainer may run
// once the dead one's lease expires.
func TestTrainerCrashLeavesServingIntact(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "lift.db")
	db := "sqlite:" + dbPath
	export := filepath.Join(dir, "ctr_predictor.json")
	run(t, "demo", "--db", db, "--clips", "3000")
	if code, out, stderr := run(t, "train", "--db", db, "--export", export); code != 0 {
		t.Fatalf("first train: %s %s", out, stderr)
	}
	exported := mustReadFile(t, export)
	s := MustStartServer(t, nil, "--db", db, "--export", export)
	_, before := s.Do("POST", "/predict/ctr?clip_id=demo-0042", nil)

	cmd := liftProcess(t, "train", "--db", db, "--export", export, "--rounds", "100000", "--eta", "0.001", "--early-stopping", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until boosting is under way (progress lines), then kill.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "[49]") {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	code, out, _ := run(t, "models", "list", "--db", db)
	var list struct {
		Models []struct {
			Version int64
			Active  bool
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Models) != 1 || !list.Models[0].Active {
		t.Errorf("registry after the crash: %s", out)
	}
	if got := mustReadFile(t, export); got != exported {
		t.Error("the exported model changed")
	}
	_, after := s.Do("POST", "/predict/ctr?clip_id=demo-0042", nil)
	if after["model_version"] != before["model_version"] || after["predicted_ctr"] != before["predicted_ctr"] {
		t.Errorf("served prediction changed: %v -> %v", before, after)
	}
	// The dead trainer's lease still blocks ...
	if code, _, stderr := run(t, "train", "--db", db, "--export", export); code != 1 || !strings.Contains(stderr, "another training run") {
		t.Errorf("train right after the crash: exit %d %q, want the lock conflict", code, stderr)
	}
	// ... but not forever.
	store, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.ExpireLocks(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := run(t, "train", "--db", db, "--export", export); code != 0 {
		t.Errorf("train after the lease expired: %d %s %s", code, out, stderr)
	}
}
