package bandit

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// OffPolicyEstimate is a policy's estimated mean reward per decision,
// computed from logs of another (the logging) policy.
type OffPolicyEstimate struct {
	// N is the number of rewarded events used.
	N int `json:"n"`
	// IPS is the inverse propensity score estimate:
	// mean of π(a|x)/p · r over logged (x, a, r, p).
	IPS float64 `json:"ips"`
	// SNIPS is self-normalised IPS (Swaminathan & Joachims 2015):
	// Σ w·r / Σ w with w = π(a|x)/p; biased but with far less variance.
	SNIPS float64 `json:"snips"`
	// DR is the doubly robust estimate (Dudík, Langford & Li 2011): the
	// reward model's value under π, corrected by IPS on its residual.
	DR float64 `json:"dr"`
	// DM is the direct method alone: the reward model's value under π.
	DM float64 `json:"dm"`
	// MeanWeight is the mean importance weight, ~1 when π is well
	// supported by the logs; far from 1 warns that IPS is unreliable.
	MeanWeight float64 `json:"mean_weight"`
	// Skipped counts events without a reward or marked skip-learn.
	Skipped int `json:"skipped"`
}

// EvalOptions tunes Evaluate.
type EvalOptions struct {
	// Learn lets the evaluated policy learn from each event after it has
	// been scored (progressive validation, as VW does when it trains on a
	// log): this evaluates a learning algorithm rather than a fixed policy.
	Learn bool
	// MinProbability clips logged probabilities from below in the weights
	// (0 = no clipping), trading bias for variance.
	MinProbability float64
	// MaxDim bounds the DR reward model's feature vector (see
	// Linear.LimitDim; 0 = no bound), for logs whose contexts clients
	// named.
	MaxDim int
	// Context, when set, stops the evaluation once it is done (a request
	// that timed out): each event costs the policy's PMF, which can be
	// dear (many variants, many Thompson draws).
	Context context.Context
	// Logged scores each event with the PMF it was logged with instead of
	// the policy's (which may then be nil): the value of the logging
	// policy as it ran, every decision weighed by the state that made it.
	// For a policy that learns from these very events, that is the honest
	// figure; its current state scored on them would be fitted to them.
	Logged bool
}

// Evaluate estimates the value of the fixed policy p from logs with IPS,
// SNIPS and DR, without changing p. The DR reward model is a ridge
// regression per action, learnt progressively over the logs (each event is
// scored before it is learnt, so the model never sees its own reward).
func Evaluate(logs []LoggedEvent, p Policy) (OffPolicyEstimate, error) {
	return EvaluateWith(logs, p, EvalOptions{})
}

// EvaluateWith is Evaluate with options.
func EvaluateWith(logs []LoggedEvent, p Policy, opt EvalOptions) (OffPolicyEstimate, error) {
	var est OffPolicyEstimate
	if !(opt.MinProbability >= 0 && opt.MinProbability <= 1) {
		return est, fmt.Errorf("min probability %v is not in [0, 1]", opt.MinProbability)
	}
	cfg := DefaultConfig()
	cfg.Explorer, cfg.Quadratic = Greedy, false
	model, err := NewLinear("reward-model", cfg)
	if err != nil {
		return est, err
	}
	model.LimitDim(opt.MaxDim)
	var sumIPS, sumW, sumWR, sumDR, sumDM float64
	// The reward model's estimates are clamped to the rewards seen so far
	// (as VW clamps to the labels it has seen): a linear model fed one
	// context value far beyond the others extrapolates without bound.
	var rLo, rHi float64
	seen := false
	for i := range logs {
		if opt.Context != nil && i%64 == 0 {
			if err := opt.Context.Err(); err != nil {
				return est, err
			}
		}
		ev := &logs[i]
		if !ev.Rewarded || ev.SkipLearn {
			est.Skipped++
			continue
		}
		if err := ev.Validate(); err != nil {
			return est, fmt.Errorf("event %d (%q): %w", i+1, ev.EventID, err)
		}
		var pi []float64
		if opt.Logged {
			if pi = ev.PMF; pi == nil {
				return est, fmt.Errorf("event %d (%q): no logged PMF", i+1, ev.EventID)
			}
		} else if pi, err = p.PMF(ev.Context, ev.Actions); err != nil {
			return est, fmt.Errorf("event %d (%q): %w", i+1, ev.EventID, err)
		}
		if len(pi) != len(ev.Actions) {
			return est, fmt.Errorf("event %d (%q): policy returned %d probabilities for %d actions", i+1, ev.EventID, len(pi), len(ev.Actions))
		}
		rhat, _ := model.estimates(ev.Context, ev.Actions, false)
		if seen {
			for a := range rhat {
				rhat[a] = min(max(rhat[a], rLo), rHi)
			}
		}
		w := pi[ev.Chosen] / max(ev.Probability, opt.MinProbability)
		r := ev.Reward
		if !seen {
			rLo, rHi, seen = r, r, true
		}
		rLo, rHi = min(rLo, r), max(rHi, r)
		var dm float64
		for a, q := range pi {
			dm += q * rhat[a]
		}
		sumIPS += w * r
		sumW += w
		sumWR += w * r
		sumDM += dm
		sumDR += dm + w*(r-rhat[ev.Chosen])
		est.N++
		if err := model.Learn(ev.Event); err != nil {
			return est, fmt.Errorf("event %d (%q): %w", i+1, ev.EventID, err)
		}
		if opt.Learn && !opt.Logged {
			if err := p.Learn(ev.Event); err != nil {
				return est, fmt.Errorf("event %d (%q): %w", i+1, ev.EventID, err)
			}
		}
	}
	if est.N == 0 {
		return est, errors.New("no rewarded events to evaluate")
	}
	n := float64(est.N)
	est.IPS, est.DR, est.DM, est.MeanWeight = sumIPS/n, sumDR/n, sumDM/n, sumW/n
	if sumW > 0 {
		est.SNIPS = sumWR / sumW
	}
	for _, v := range []float64{est.IPS, est.SNIPS, est.DR, est.DM} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return est, errors.New("estimate is not finite (rewards or weights too large)")
		}
	}
	return est, nil
}
