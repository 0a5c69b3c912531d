package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentPolicyOptions: a policy given over HTTP refuses what it
// does not take, naming the policy and the option, and takes what it does.
func TestExperimentPolicyOptions(t *testing.T) {
	s := MustStartServer(t, nil, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"), "--export", "")
	plain := []map[string]any{{"id": "red"}, {"id": "blue"}}
	for i, tt := range []struct {
		policy map[string]any
		code   int
		want   []string // in the detail of a 400
	}{
		{map[string]any{"params": map[string]any{"epsilon": 0.1}}, 400,
			[]string{"policy thompson", `unknown option "epsilon"`, "parameter of policy epsilon-greedy"}},
		{map[string]any{"name": "greedy", "params": map[string]any{"draws": 5}}, 400, []string{"policy greedy", `unknown option "draws"`}},
		{map[string]any{"name": "default", "params": map[string]any{"draws": -1}}, 400, []string{"policy default", `unknown option "draws"`}},
		{map[string]any{"name": "thompson", "params": map[string]any{"draws": 0.5}}, 400, []string{"policy thompson", "draws"}},
		{map[string]any{"name": "epsilon-greedy", "params": map[string]any{"epsilon": 2}}, 400, []string{"policy epsilon-greedy", "epsilon=", "[0, 1]"}},
		{map[string]any{"name": "epsilon-greedy", "params": map[string]any{"epsilon": 0.1}}, 201, nil},
		{map[string]any{"name": "thompson", "params": map[string]any{"draws": 64, "seed": 3}}, 201, nil},
	} {
		body := map[string]any{"id": "p" + string(rune('a'+i)), "variants": plain, "policy": tt.policy}
		code, e := s.Do("POST", "/experiments", body)
		detail, _ := e["detail"].(string)
		ok := code == tt.code
		for _, w := range tt.want {
			ok = ok && strings.Contains(detail, w)
		}
		if !ok {
			t.Errorf("policy %v: %d %v; want %d saying %q", tt.policy, code, e, tt.code, tt.want)
		}
	}
}
