package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MustBanditData writes a small separable 3-class VW file (and the same
// rows as CSV) and returns both paths.
func MustBanditData(tb testing.TB) (vw, csv string) {
	tb.Helper()
	dir := tb.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var v, c strings.Builder
	c.WriteString("label,a,b\n")
	for range 600 {
		k := rng.IntN(3)
		a, b := float64(k)+0.3*rng.Float64(), 3-float64(k)+0.3*rng.Float64()
		fmt.Fprintf(&v, "%d |x a:%g b:%g\n", k+1, a, b)
		fmt.Fprintf(&c, "%d,%g,%g\n", k*10, a, b)
	}
	vw, csv = filepath.Join(dir, "toy.vw"), filepath.Join(dir, "toy.csv")
	if err := os.WriteFile(vw, []byte(v.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(csv, []byte(c.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return vw, csv
}

func MustJSONObject(tb testing.TB, s string) map[string]any {
	tb.Helper()
	if strings.Count(strings.TrimSpace(s), "\n") != 0 {
		tb.Fatalf("want one JSON line, got %q", s)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		tb.Fatalf("stdout is not a JSON object: %v: %q", err, s)
	}
	return m
}

func TestBanditSimulate(t *testing.T) {
	vw, csv := MustBanditData(t)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"vw default", []string{"--data", vw}},
		{"vw squarecb shuffled", []string{"--data", vw, "--policy", "squarecb:20", "--shuffle-seed", "3", "--seed", "9"}},
		{"csv thompson", []string{"--data", csv, "--policy", "thompson"}},
		{"csv linucb label", []string{"--data", csv, "--label", "label", "--policy", "linucb"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := MustExec(t, append([]string{"bandit", "simulate"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			m := MustJSONObject(t, out)
			for _, k := range []string{"policy", "rounds", "loss", "reward", "decisions_per_sec"} {
				if _, ok := m[k]; !ok {
					t.Errorf("output lacks %q: %s", k, out)
				}
			}
			if m["rounds"].(float64) != 600 || m["actions"].(float64) != 3 {
				t.Errorf("rounds %v, actions %v; want 600 and 3", m["rounds"], m["actions"])
			}
			loss := m["loss"].(float64)
			if reward := m["reward"].(float64); loss+reward != 1 {
				t.Errorf("loss %v + reward %v != 1", loss, reward)
			}
			// Uniform play loses 2/3; every policy here must learn the
			// separable classes (Thompson, blind to the context, only
			// finds the most frequent class).
			limit := 0.3
			if strings.Contains(tt.name, "thompson") {
				limit = 0.7
			}
			if loss > limit {
				t.Errorf("loss %v, want <= %v", loss, limit)
			}
		})
	}
	// The same seed gives the same loss; the output is reproducible.
	a, _, _ := MustExec(t, "bandit", "simulate", "--data", vw, "--policy", "squarecb", "--seed", "4")
	b, _, _ := MustExec(t, "bandit", "simulate", "--data", vw, "--policy", "squarecb", "--seed", "4")
	if MustJSONObject(t, a)["loss"] != MustJSONObject(t, b)["loss"] {
		t.Errorf("same seed, different losses: %s vs %s", a, b)
	}
}

func TestBanditSimulateLogThenEvaluate(t *testing.T) {
	vw, _ := MustBanditData(t)
	log := filepath.Join(t.TempDir(), "log.dsjson")
	out, errs, code := MustExec(t, "bandit", "simulate", "--data", vw, "--policy", "epsilon-greedy:1", "--log", log)
	if code != 0 {
		t.Fatalf("simulate exit %d: %s", code, errs)
	}
	onPolicy := MustJSONObject(t, out)["reward"].(float64)
	// The uniform logging policy evaluated on its own log, without
	// learning: IPS and SNIPS equal its on-policy reward.
	out, errs, code = MustExec(t, "bandit", "evaluate", "--log", log, "--policy", "epsilon-greedy:1", "--learn=false")
	if code != 0 {
		t.Fatalf("evaluate exit %d: %s", code, errs)
	}
	m := MustJSONObject(t, out)
	if m["n"].(float64) != 600 {
		t.Errorf("n = %v, want 600", m["n"])
	}
	for _, k := range []string{"ips", "snips"} {
		if d := m[k].(float64) - onPolicy; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, on-policy reward %v", k, m[k], onPolicy)
		}
	}
	// A learning policy evaluated progressively on the uniform log earns
	// far more than uniform play.
	out, _, code = MustExec(t, "bandit", "evaluate", "--log", log, "--policy", "default")
	if code != 0 || MustJSONObject(t, out)["snips"].(float64) < 0.6 {
		t.Errorf("default on the log: exit %d, %s", code, out)
	}
}

func TestBanditErrors(t *testing.T) {
	vw, _ := MustBanditData(t)
	bad := filepath.Join(t.TempDir(), "bad.dsjson")
	if err := os.WriteFile(bad, []byte("{\"c\":{\"_multi\":[{}]}}\n{\"a\":[9],\"p\":[1],\"c\":{\"_multi\":[{}]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badVW := filepath.Join(t.TempDir(), "bad.vw")
	if err := os.WriteFile(badVW, []byte("1 |x a:1\nB |x a:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"bandit", "--help"}, 0, ""},
		{"simulate help", []string{"bandit", "simulate", "--help"}, 0, ""},
		{"evaluate help", []string{"bandit", "evaluate", "--help"}, 0, ""},
		{"no subcommand", []string{"bandit"}, 2, "subcommand"},
		{"unknown subcommand", []string{"bandit", "play"}, 2, "play"},
		{"no data", []string{"bandit", "simulate"}, 2, "--data"},
		{"bad policy", []string{"bandit", "simulate", "--data", vw, "--policy", "ucb"}, 2, "ucb"},
		{"bad flag", []string{"bandit", "simulate", "--nope"}, 2, "nope"},
		{"missing file", []string{"bandit", "simulate", "--data", "/nonexistent.vw"}, 1, "nonexistent"},
		{"bad vw", []string{"bandit", "simulate", "--data", badVW}, 1, "line 2"},
		{"evaluate no log", []string{"bandit", "evaluate", "--policy", "default"}, 2, "--log"},
		{"evaluate bad log", []string{"bandit", "evaluate", "--log", bad, "--policy", "default"}, 1, "line 2"},
		{"evaluate bad clip", []string{"bandit", "evaluate", "--log", bad, "--policy", "default", "--clip", "2"}, 2, "clip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := MustExec(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errs)
			}
			if code == 1 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", errs)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not mention %q", errs, tt.want)
			}
		})
	}
}
