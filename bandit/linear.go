package bandit

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Explorer is how a regression-oracle policy turns reward estimates into a
// PMF.
type Explorer int

// The explorers of a Linear policy.
const (
	// Greedy puts all mass on the best estimate (split among ties).
	Greedy Explorer = iota
	// EpsilonGreedy mixes Greedy with Epsilon of uniform exploration.
	EpsilonGreedy
	// Softmax plays a with probability ∝ exp(SoftmaxLambda·estimate_a).
	Softmax
	// SquareCB is inverse gap weighting (Foster & Rakhlin 2020): an action
	// whose estimate trails the best by gap gets 1/(K + γ·gap), γ growing
	// as GammaScale·t^GammaExponent.
	SquareCB
	// LinUCB plays the best upper confidence bound
	// estimate + Alpha·sqrt(x'A⁻¹x) (Li et al. 2010).
	LinUCB
	// LinTS is linear Thompson sampling (Agrawal & Goyal 2013): the
	// probability that each action's posterior draw
	// N(estimate, TSScale²·x'A⁻¹x) is the largest, by Monte Carlo.
	LinTS
)

// Estimator is how a logged event becomes regression targets: the cost
// estimator of VW's --cb_type.
type Estimator int

// The cost estimators.
const (
	// DM (direct method) regresses the chosen action's reward on its
	// features, unweighted: the most sample-efficient choice when the
	// explorer keeps every action's probability well above zero.
	DM Estimator = iota
	// MTR regresses the chosen action's reward with importance weight
	// 1/p, as VW's default --cb_type mtr.
	MTR
	// IPS regresses every action on its inverse-propensity estimate:
	// r/p for the chosen action, 0 for the others.
	IPS
	// DR regresses on the doubly robust estimate ŷ_a + (r - ŷ_a)/p for the
	// chosen action; for the others it is ŷ_a itself, which would teach
	// the model nothing, so they are left alone.
	DR
)

var estimatorNames = []string{"dm", "mtr", "ips", "dr"}

// String returns the estimator's name as ParsePolicy accepts it.
func (e Estimator) String() string {
	if int(e) < len(estimatorNames) {
		return estimatorNames[e]
	}
	return fmt.Sprintf("estimator(%d)", int(e))
}

// LinearConfig configures a Linear policy. The zero value is not useful;
// start from DefaultConfig or ParsePolicy.
type LinearConfig struct {
	Explorer      Explorer  `json:"explorer"`
	Epsilon       float64   `json:"epsilon,omitempty"`
	SoftmaxLambda float64   `json:"softmax_lambda,omitempty"`
	GammaScale    float64   `json:"gamma_scale,omitempty"`
	GammaExponent float64   `json:"gamma_exponent,omitempty"`
	Alpha         float64   `json:"alpha,omitempty"`
	TSScale       float64   `json:"ts_scale,omitempty"`
	Draws         int       `json:"draws,omitempty"`
	Ridge         float64   `json:"ridge"`
	Quadratic     bool      `json:"quadratic"`
	Estimator     Estimator `json:"estimator"`
	// MinProbability clips logged probabilities from below in importance
	// weights (MTR, IPS, DR), bounding the variance one event can add.
	MinProbability float64 `json:"min_probability,omitempty"`
	// Floor mixes this much uniform exploration into every PMF, so that
	// every action keeps probability >= Floor/K: logs stay usable for
	// off-policy evaluation even under a deterministic explorer.
	Floor float64 `json:"floor,omitempty"`
	// Seed drives the Monte Carlo draws of LinTS.
	Seed uint64 `json:"seed,omitempty"`
}

func (c *LinearConfig) validate() error {
	switch {
	case !(c.Ridge > 0) || math.IsInf(c.Ridge, 0):
		return fmt.Errorf("ridge %v must be a positive number", c.Ridge)
	case c.Explorer < Greedy || c.Explorer > LinTS:
		return fmt.Errorf("unknown explorer %d", c.Explorer)
	case c.Estimator < DM || c.Estimator > DR:
		return fmt.Errorf("unknown estimator %d", c.Estimator)
	case c.Explorer == EpsilonGreedy && !(c.Epsilon >= 0 && c.Epsilon <= 1):
		return fmt.Errorf("epsilon %v is not in [0, 1]", c.Epsilon)
	case c.Explorer == Softmax && !(c.SoftmaxLambda >= 0) || math.IsInf(c.SoftmaxLambda, 0):
		return fmt.Errorf("softmax lambda %v is not a non-negative number", c.SoftmaxLambda)
	case c.Explorer == SquareCB && (!(c.GammaScale >= 0) || math.IsInf(c.GammaScale, 0) || !(c.GammaExponent >= 0 && c.GammaExponent <= 1)):
		return fmt.Errorf("squarecb gamma scale %v / exponent %v out of range", c.GammaScale, c.GammaExponent)
	case c.Explorer == LinUCB && (!(c.Alpha >= 0) || math.IsInf(c.Alpha, 0)):
		return fmt.Errorf("linucb alpha %v is not a non-negative number", c.Alpha)
	case c.Explorer == LinTS && (!(c.TSScale >= 0) || math.IsInf(c.TSScale, 0) || c.Draws < 1 || c.Draws > 1<<20):
		return fmt.Errorf("lin-ts scale %v / draws %d out of range", c.TSScale, c.Draws)
	case !(c.Floor >= 0 && c.Floor <= 1):
		return fmt.Errorf("floor %v is not in [0, 1]", c.Floor)
	case !(c.MinProbability >= 0 && c.MinProbability <= 1):
		return fmt.Errorf("min probability %v is not in [0, 1]", c.MinProbability)
	}
	return nil
}

// Linear is a contextual bandit policy over exact ridge regression oracles:
// one per action id for actions without features, and one shared by all
// actions that carry features (over context, action features and their
// interactions). The Explorer turns its estimates into a PMF.
type Linear struct {
	name string
	cfg  LinearConfig

	mu sync.RWMutex
	st linearState
	// maxDim bounds φ's length (0: no bound); see LimitDim.
	maxDim int
	// z and phi are Learn's scratch space, used under the write lock.
	z, phi []float64
}

type linearState struct {
	Feat   featurizer        `json:"features"`
	Models map[string]*ridge `json:"models"`
	Shared *ridge            `json:"shared,omitempty"`
	T      int64             `json:"t"` // events learnt
}

// NewLinear returns a Linear policy with no data. name is what Name
// reports; it may be empty.
func NewLinear(name string, cfg LinearConfig) (*Linear, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if name == "" {
		name = "linear"
	}
	p := &Linear{name: name, cfg: cfg}
	p.st.Feat.Quadratic = cfg.Quadratic
	p.st.Models = map[string]*ridge{}
	p.st.Feat.rebuild()
	return p, nil
}

// LimitDim bounds the length of φ, and with it each ridge model's
// d×d matrices, at n (n <= 0: no bound). Features first seen once φ is
// that long are not learnt. A service that takes contexts from clients
// sets it, so that a client cannot make the policy's memory grow with
// the square of the number of feature names it sends; it holds across
// Restore.
func (p *Linear) LimitDim(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxDim = max(n, 0)
	p.st.Feat.maxDim = p.maxDim
}

// Name reports the policy's name.
func (p *Linear) Name() string { return p.name }

// Config returns the policy's configuration.
func (p *Linear) Config() LinearConfig { return p.cfg }

// model returns the ridge that scores a, or nil when it has no data yet.
func (st *linearState) model(a *Action) *ridge {
	if len(a.Features) > 0 {
		return st.Shared
	}
	return st.Models[a.ID]
}

// estimates writes each action's estimate (and, when wantVar, the width
// x'A⁻¹x) for ctx. The caller holds the lock.
func (p *Linear) estimates(ctx Context, actions []Action, wantVar bool) (mean, width []float64) {
	st := &p.st
	mean = make([]float64, len(actions))
	if wantVar {
		width = make([]float64, len(actions))
	}
	var z, phi, zc, phic []float64
	for i := range actions {
		a := &actions[i]
		var x []float64
		if len(a.Features) > 0 {
			z = st.Feat.base(z, ctx, a, false)
			phi = st.Feat.expand(phi, z)
			x = phi
		} else {
			if phic == nil {
				zc = st.Feat.base(zc, ctx, nil, false)
				phic = st.Feat.expand(nil, zc)
			}
			x = phic
		}
		m := st.model(a)
		if m == nil {
			if wantVar {
				var s float64
				for _, v := range x {
					s += v * v
				}
				width[i] = s / p.cfg.Ridge
			}
			continue
		}
		mean[i] = m.predict(x)
		if wantVar {
			width[i] = m.variance(x)
		}
	}
	return mean, width
}

// PMF returns the policy's distribution over actions for ctx.
func (p *Linear) PMF(ctx Context, actions []Action) ([]float64, error) {
	if err := validateInputs(ctx, actions); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	c := &p.cfg
	wantVar := c.Explorer == LinUCB || c.Explorer == LinTS
	mean, width := p.estimates(ctx, actions, wantVar)
	pmf := p.explore(mean, width)
	if c.Floor > 0 {
		u := c.Floor / float64(len(pmf))
		for i := range pmf {
			pmf[i] = (1-c.Floor)*pmf[i] + u
		}
	}
	return pmf, nil
}

// explore turns estimates (and widths) into the explorer's PMF. The caller
// holds the lock.
func (p *Linear) explore(mean, width []float64) []float64 {
	c := &p.cfg
	switch c.Explorer {
	case Greedy:
		return greedyPMF(mean, 0)
	case EpsilonGreedy:
		return greedyPMF(mean, c.Epsilon)
	case Softmax:
		return softmaxPMF(mean, c.SoftmaxLambda)
	case SquareCB:
		gamma := c.GammaScale * math.Pow(float64(p.st.T+1), c.GammaExponent)
		return igwPMF(mean, gamma)
	case LinUCB:
		for i := range mean {
			mean[i] += c.Alpha * math.Sqrt(width[i])
		}
		return greedyPMF(mean, 0)
	default: // LinTS
		for i := range width {
			width[i] = c.TSScale * math.Sqrt(width[i])
		}
		// The draws are seeded by the policy's seed and how much it has
		// learnt, so the PMF is a function of state and input.
		rng := rand.New(rand.NewPCG(c.Seed, uint64(p.st.T)))
		pmf := thompsonPMF(len(mean), c.Draws, func(i int) float64 {
			return mean[i] + width[i]*rng.NormFloat64()
		})
		evenTies(pmf, mean, width)
		return pmf
	}
}

// Learn updates the regression oracles with one logged event.
func (p *Linear) Learn(ev Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &p.st
	c := &p.cfg
	pr := max(ev.Probability, c.MinProbability)
	switch c.Estimator {
	case DM, MTR:
		w := 1.0
		if c.Estimator == MTR {
			w = 1 / pr
		}
		p.update(ev.Context, &ev.Actions[ev.Chosen], ev.Reward, w)
	default:
		// All actions' targets come from the estimates before this update.
		mean, _ := p.estimates(ev.Context, ev.Actions, false)
		for i := range ev.Actions {
			var y float64
			switch {
			case c.Estimator == IPS && i == ev.Chosen:
				y = ev.Reward / pr
			case c.Estimator == DR && i == ev.Chosen:
				y = mean[i] + (ev.Reward-mean[i])/pr
			case c.Estimator == DR:
				// The DR target of an action not played is its own
				// estimate: regressing on it would change nothing but
				// add inertia, so it is skipped.
				continue
			}
			p.update(ev.Context, &ev.Actions[i], y, 1)
		}
	}
	st.T++
	return nil
}

// update learns target y for action a in ctx. The caller holds the lock.
func (p *Linear) update(ctx Context, a *Action, y, w float64) {
	st := &p.st
	z := st.Feat.base(p.z, ctx, a, true)
	p.z = z
	if c := st.Feat.observe(z); c != nil {
		for _, m := range st.Models {
			m.rescale(c)
		}
		if st.Shared != nil {
			st.Shared.rescale(c)
		}
	}
	phi := st.Feat.expand(p.phi, z)
	p.phi = phi
	m := st.model(a)
	if m == nil {
		m = newRidge(len(phi), p.cfg.Ridge)
		if len(a.Features) > 0 {
			st.Shared = m
		} else {
			st.Models[a.ID] = m
		}
	}
	m.update(phi, y, w)
}

// linearSnapshot is the JSON form of a Linear policy.
type linearSnapshot struct {
	Kind   string       `json:"kind"`
	Name   string       `json:"name"`
	Config LinearConfig `json:"config"`
	State  linearState  `json:"state"`
}

// Snapshot returns the policy's configuration and complete state as JSON.
func (p *Linear) Snapshot() ([]byte, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return json.Marshal(linearSnapshot{Kind: "linear", Name: p.name, Config: p.cfg, State: p.st})
}

// Restore replaces the policy's configuration and state with a Snapshot's.
func (p *Linear) Restore(data []byte) error {
	var s linearSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("linear snapshot: %w", err)
	}
	if s.Kind != "linear" {
		return fmt.Errorf("snapshot is of a %q policy, not a linear one", s.Kind)
	}
	if err := s.Config.validate(); err != nil {
		return fmt.Errorf("linear snapshot: %w", err)
	}
	f := &s.State.Feat
	if len(f.Scales) != len(f.Names) {
		return fmt.Errorf("linear snapshot: %d feature names but %d scales", len(f.Names), len(f.Scales))
	}
	if f.Quadratic != s.Config.Quadratic {
		return fmt.Errorf("linear snapshot: feature map does not match its configuration")
	}
	if s.State.Models == nil {
		s.State.Models = map[string]*ridge{}
	}
	for id, m := range s.State.Models {
		if m == nil {
			return fmt.Errorf("linear snapshot: action %q has no model", id)
		}
		if err := m.check(); err != nil {
			return fmt.Errorf("linear snapshot: action %q: %w", id, err)
		}
	}
	if s.State.Shared != nil {
		if err := s.State.Shared.check(); err != nil {
			return fmt.Errorf("linear snapshot: shared model: %w", err)
		}
	}
	f.rebuild()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.cfg, p.st = s.Name, s.Config, s.State
	p.st.Feat.maxDim = p.maxDim
	return nil
}

// greedyPMF puts 1-eps on the best estimates (split among exact ties) and
// eps uniformly over all actions.
func greedyPMF(mean []float64, eps float64) []float64 {
	k := len(mean)
	pmf := make([]float64, k)
	best := math.Inf(-1)
	nBest := 0
	for _, v := range mean {
		if v > best {
			best, nBest = v, 1
		} else if v == best {
			nBest++
		}
	}
	for i, v := range mean {
		pmf[i] = eps / float64(k)
		if v == best {
			pmf[i] += (1 - eps) / float64(nBest)
		}
	}
	return pmf
}

// softmaxPMF returns p ∝ exp(lambda·mean), computed stably.
func softmaxPMF(mean []float64, lambda float64) []float64 {
	pmf := make([]float64, len(mean))
	best := math.Inf(-1)
	for _, v := range mean {
		best = max(best, v)
	}
	var sum float64
	for i, v := range mean {
		pmf[i] = math.Exp(lambda * (v - best))
		sum += pmf[i]
	}
	for i := range pmf {
		pmf[i] /= sum
	}
	return pmf
}

// igwPMF is inverse gap weighting: 1/(K + γ·gap) for every action but the
// best, which gets the rest (ties at the top share it).
func igwPMF(mean []float64, gamma float64) []float64 {
	k := float64(len(mean))
	pmf := make([]float64, len(mean))
	best := math.Inf(-1)
	nBest := 0
	for _, v := range mean {
		if v > best {
			best, nBest = v, 1
		} else if v == best {
			nBest++
		}
	}
	var rest float64
	for i, v := range mean {
		if v < best {
			pmf[i] = 1 / (k + gamma*(best-v))
			rest += pmf[i]
		}
	}
	for i, v := range mean {
		if v == best {
			pmf[i] = (1 - rest) / float64(nBest)
		}
	}
	return pmf
}

// thompsonPMF estimates P(action i has the largest draw) from draws
// samples of draw(i), counting ties fractionally, plus one uniform draw.
func thompsonPMF(k, draws int, draw func(i int) float64) []float64 {
	pmf := make([]float64, k)
	vals := make([]float64, k)
	for range draws {
		best := math.Inf(-1)
		nBest := 0
		for i := range vals {
			vals[i] = draw(i)
			if vals[i] > best {
				best, nBest = vals[i], 1
			} else if vals[i] == best {
				nBest++
			}
		}
		for i, v := range vals {
			if v == best {
				pmf[i] += 1 / float64(nBest)
			}
		}
	}
	// One extra draw spread uniformly keeps every action's probability
	// above zero, as Thompson sampling's true PMF is: a logged action can
	// then always be weighted, and off-policy estimates from these logs
	// keep their support.
	for i := range pmf {
		pmf[i] = (pmf[i] + 1/float64(k)) / float64(draws+1)
	}
	return pmf
}
