package bandit

import (
	"strings"
	"testing"
)

// TestParsePolicyRefusesWhatItWouldIgnore: every policy refuses a
// parameter or option it does not take and a value out of range, with a
// message naming the policy and the option, rather than ignoring it.
func TestParsePolicyRefusesWhatItWouldIgnore(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want []string // substrings of the error
	}{
		{"greedy:3", []string{"policy greedy", "no parameter"}},
		{"default:1", []string{"policy default", "no parameter"}},
		{"thompson:1", []string{"policy thompson", "no parameter"}},
		{"default,draws=-1", []string{"policy default", `unknown option "draws"`}},
		{"default,draws=64", []string{"policy default", `unknown option "draws"`}},
		{"greedy,seed=1", []string{"policy greedy", `unknown option "seed"`}},
		{"linucb,exponent=0.5", []string{"policy linucb", `unknown option "exponent"`}},
		{"thompson,epsilon=0.1", []string{"policy thompson", `unknown option "epsilon"`, "parameter of policy epsilon-greedy"}},
		{"thompson,ridge=1", []string{"policy thompson", `unknown option "ridge"`}},
		{"softmax,epsilon=0.1", []string{"policy softmax", `unknown option "epsilon"`}},
		{"thompson,draws=-1", []string{"policy thompson", "draws", "[1, 1048576]"}},
		{"thompson,draws=0", []string{"policy thompson", "draws"}},
		{"thompson,draws=2.5", []string{"policy thompson", "draws"}},
		{"thompson,seed=-1", []string{"policy thompson", "seed"}},
		{"lin-ts,draws=0", []string{"policy lin-ts", "draws"}},
		{"lin-ts,draws=2000000", []string{"policy lin-ts", "draws"}},
		{"lin-ts:-1", []string{"policy lin-ts", "v=", ">= 0"}},
		{"epsilon-greedy:2", []string{"policy epsilon-greedy", "epsilon=", "[0, 1]"}},
		{"epsilon-greedy:NaN", []string{"policy epsilon-greedy", "epsilon="}},
		{"epsilon-greedy:x", []string{"policy epsilon-greedy", "epsilon="}},
		{"softmax:-1", []string{"policy softmax", "lambda="}},
		{"softmax:Inf", []string{"policy softmax", "lambda="}},
		{"linucb:-1", []string{"policy linucb", "alpha="}},
		{"squarecb:-1", []string{"policy squarecb", "gamma="}},
		{"squarecb,exponent=2", []string{"policy squarecb", "exponent="}},
		{"squarecb,ridge=0", []string{"policy squarecb", "ridge=", "positive"}},
		{"squarecb,ridge=-1", []string{"policy squarecb", "ridge="}},
		{"squarecb,estimator=foo", []string{"policy squarecb", "estimator=", "dm, mtr, ips or dr"}},
		{"squarecb,quadratic=maybe", []string{"policy squarecb", "quadratic="}},
		{"default,floor=2", []string{"policy default", "floor="}},
		{"default,clip=-1", []string{"policy default", "clip="}},
		{"squarecb,bogus=1", []string{"policy squarecb", `unknown option "bogus"`}},
		{"squarecb,noequals", []string{"policy squarecb", "not key=value"}},
		{"squarecb,ridge=1,ridge=2", []string{"policy squarecb", "ridge is given twice"}},
		{"epsilon-greedy:0.1,epsilon=0.2", []string{"policy epsilon-greedy", "epsilon is given twice"}},
		{"ucb", []string{`unknown policy "ucb"`}},
		{"", []string{`unknown policy ""`}},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := ParsePolicy(tt.spec)
			if err == nil {
				t.Fatalf("ParsePolicy(%q) = %s, want an error", tt.spec, p.Name())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParsePolicy(%q) = %q, want it to say %q", tt.spec, err, w)
				}
			}
		})
	}
}

// TestParsePolicyValues: what a spec gives is what the policy gets, the
// parameter either after the colon or as an option by its name.
func TestParsePolicyValues(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want LinearConfig
	}{
		{"default", DefaultConfig()},
		{"epsilon-greedy", LinearConfig{Explorer: EpsilonGreedy, Epsilon: 0.05, Alpha: 0.3, Ridge: 0.1}},
		{"epsilon-greedy,epsilon=0.2", LinearConfig{Explorer: EpsilonGreedy, Epsilon: 0.2, Alpha: 0.3, Ridge: 0.1}},
		{"squarecb:20,exponent=0.25,estimator=mtr,clip=0.01", LinearConfig{Explorer: SquareCB, GammaScale: 20, GammaExponent: 0.25, Alpha: 0.3, Ridge: 0.1, Estimator: MTR, MinProbability: 0.01}},
		{"lin-ts:0.5,draws=64,seed=7,floor=0.1", LinearConfig{Explorer: LinTS, TSScale: 0.5, Draws: 64, Seed: 7, Alpha: 0.3, Ridge: 0.1, Floor: 0.1}},
		{"greedy,quadratic=true,ridge=2", LinearConfig{Explorer: Greedy, Alpha: 0.3, Ridge: 2, Quadratic: true}},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			if got := MustParsePolicy(t, tt.spec).(*Linear).Config(); got != tt.want {
				t.Errorf("ParsePolicy(%q) config = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
	th := MustParsePolicy(t, "thompson,draws=64,seed=9").(*Thompson)
	if th.Draws != 64 || th.Seed != 9 {
		t.Errorf("thompson,draws=64,seed=9: draws %d, seed %d", th.Draws, th.Seed)
	}
	if th := MustParsePolicy(t, "thompson").(*Thompson); th.Draws != 256 || th.Seed != 0 {
		t.Errorf("thompson: draws %d, seed %d; want 256, 0", th.Draws, th.Seed)
	}
}
