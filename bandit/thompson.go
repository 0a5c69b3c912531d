package bandit

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// BetaStats is one action's Beta-Bernoulli posterior: Beta(Alpha, Beta)
// with Alpha = prior α + Σ reward and Beta = prior β + Σ (1 - reward).
// Its fields are additive, so replicas can merge by summing deltas.
type BetaStats struct {
	Trials    float64 `json:"trials"`
	RewardSum float64 `json:"reward_sum"`
}

// Thompson is Beta-Bernoulli Thompson sampling per action (Chapelle & Li
// 2011): the right tool for plain A/B/n tests on clicks. It ignores the
// context. Rewards must lie in [0, 1] (a fractional reward counts as that
// share of a success).
type Thompson struct {
	// PriorAlpha and PriorBeta are the Beta prior (1, 1 = uniform).
	PriorAlpha, PriorBeta float64
	// Draws is the number of posterior draws behind each PMF.
	Draws int
	// Seed drives the draws.
	Seed uint64

	mu    sync.RWMutex
	stats map[string]BetaStats
	t     int64
}

// NewThompson returns Beta-Bernoulli Thompson sampling with a uniform
// Beta(1, 1) prior and 256 draws per PMF (probabilities in steps of about 0.004).
func NewThompson(seed uint64) *Thompson {
	return &Thompson{PriorAlpha: 1, PriorBeta: 1, Draws: 256, Seed: seed, stats: map[string]BetaStats{}}
}

// Name reports "thompson".
func (p *Thompson) Name() string { return "thompson" }

// Posterior returns the Beta(α, β) posterior of action id.
func (p *Thompson) Posterior(id string) (alpha, beta float64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.stats[id]
	return p.PriorAlpha + s.RewardSum, p.PriorBeta + s.Trials - s.RewardSum
}

// Stats returns a copy of every action's sufficient statistics.
func (p *Thompson) Stats() map[string]BetaStats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]BetaStats, len(p.stats))
	for k, v := range p.stats {
		out[k] = v
	}
	return out
}

// Merge adds another replica's statistics (a delta since the last merge)
// into p.
func (p *Thompson) Merge(delta map[string]BetaStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range delta {
		s := p.stats[k]
		s.Trials += v.Trials
		s.RewardSum += v.RewardSum
		p.stats[k] = s
	}
}

// AddPriors adds the statistics of priors for the actions p knows
// nothing of yet, in one step (an action learnt or given a prior since
// is left as it is).
func (p *Thompson) AddPriors(priors map[string]BetaStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range priors {
		if _, known := p.stats[k]; !known {
			p.stats[k] = v
		}
	}
}

// PMF returns, for each action, the Monte Carlo probability that its
// posterior draw is the largest. The draws are seeded by Seed and the
// number of events learnt, so the PMF is a function of state and input.
func (p *Thompson) PMF(ctx Context, actions []Action) ([]float64, error) {
	if err := validateInputs(ctx, actions); err != nil {
		return nil, err
	}
	if p.Draws < 1 || !(p.PriorAlpha > 0) || !(p.PriorBeta > 0) {
		return nil, fmt.Errorf("thompson: draws %d and prior (%v, %v) must be positive", p.Draws, p.PriorAlpha, p.PriorBeta)
	}
	p.mu.RLock()
	a := make([]float64, len(actions))
	b := make([]float64, len(actions))
	for i, act := range actions {
		s := p.stats[act.ID]
		a[i], b[i] = p.PriorAlpha+s.RewardSum, p.PriorBeta+s.Trials-s.RewardSum
	}
	rng := rand.New(rand.NewPCG(p.Seed, uint64(p.t)))
	p.mu.RUnlock()
	pmf := thompsonPMF(len(actions), p.Draws, func(i int) float64 {
		return BetaDraw(rng, a[i], b[i])
	})
	evenTies(pmf, a, b)
	return pmf, nil
}

// evenTies gives actions whose posteriors are the same (Beta(a, b) for
// Thompson sampling, the normal of mean a and scale b for lin-ts) the
// same probability, their Monte Carlo estimates' mean: their true chances
// of being best are equal, and left to the draws a new experiment's
// untried variants got splits such as 56/44 (the same for every
// experiment, the draws being seeded). The sum stays 1.
func evenTies(pmf, a, b []float64) {
	type posterior struct{ a, b float64 }
	groups := map[posterior][]int{}
	for i := range pmf {
		k := posterior{a[i], b[i]}
		groups[k] = append(groups[k], i)
	}
	for _, idx := range groups {
		if len(idx) < 2 {
			continue
		}
		var sum float64
		for _, i := range idx {
			sum += pmf[i]
		}
		for _, i := range idx {
			pmf[i] = sum / float64(len(idx))
		}
	}
}

// Learn adds the event's reward to the chosen action's posterior.
func (p *Thompson) Learn(ev Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	if ev.Reward < 0 || ev.Reward > 1 {
		return fmt.Errorf("thompson: reward %v is not in [0, 1]", ev.Reward)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	id := ev.Actions[ev.Chosen].ID
	s := p.stats[id]
	s.Trials++
	s.RewardSum += ev.Reward
	p.stats[id] = s
	p.t++
	return nil
}

type thompsonSnapshot struct {
	Kind       string               `json:"kind"`
	PriorAlpha float64              `json:"prior_alpha"`
	PriorBeta  float64              `json:"prior_beta"`
	Draws      int                  `json:"draws"`
	Seed       uint64               `json:"seed"`
	T          int64                `json:"t"`
	Stats      map[string]BetaStats `json:"stats"`
}

// Snapshot returns the prior, the draw settings and every action's
// statistics as JSON.
func (p *Thompson) Snapshot() ([]byte, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return json.Marshal(thompsonSnapshot{"thompson", p.PriorAlpha, p.PriorBeta, p.Draws, p.Seed, p.t, p.stats})
}

// Restore replaces p's settings and statistics with a Snapshot's.
func (p *Thompson) Restore(data []byte) error {
	var s thompsonSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("thompson snapshot: %w", err)
	}
	if s.Kind != "thompson" {
		return fmt.Errorf("snapshot is of a %q policy, not thompson", s.Kind)
	}
	if !(s.PriorAlpha > 0) || !(s.PriorBeta > 0) || s.Draws < 1 {
		return fmt.Errorf("thompson snapshot: prior (%v, %v) and draws %d must be positive", s.PriorAlpha, s.PriorBeta, s.Draws)
	}
	for id, st := range s.Stats {
		if !(st.Trials >= 0) || !(st.RewardSum >= 0) || st.RewardSum > st.Trials || math.IsInf(st.Trials, 0) {
			return fmt.Errorf("thompson snapshot: action %q has impossible counts %+v", id, st)
		}
	}
	if s.Stats == nil {
		s.Stats = map[string]BetaStats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.PriorAlpha, p.PriorBeta, p.Draws, p.Seed, p.t, p.stats = s.PriorAlpha, s.PriorBeta, s.Draws, s.Seed, s.T, s.Stats
	return nil
}

// BetaDraw samples Beta(a, b) from rng as X/(X+Y) with X ~ Gamma(a),
// Y ~ Gamma(b).
func BetaDraw(rng *rand.Rand, a, b float64) float64 {
	x := gammaDraw(rng, a)
	y := gammaDraw(rng, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gammaDraw samples Gamma(shape, 1) by Marsaglia & Tsang's method (2000),
// boosting shape < 1 with U^(1/shape).
func gammaDraw(rng *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(rng.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}
