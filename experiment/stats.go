package experiment

import (
	"context"
	"io"
	"maps"
	"math"
	"time"

	"lift"
	"lift/bandit"
)

// VariantStats are one variant's results.
type VariantStats struct {
	ID        string  `json:"id"`
	Retired   bool    `json:"retired,omitempty"`
	Trials    int64   `json:"trials"`
	RewardSum float64 `json:"reward_sum"`
	// Mean is RewardSum/Trials, 0 without trials: a number always, as
	// clients of the contract read it; CI95 is then the prior's interval
	// (the whole range without one), and the dashboard shows no mean.
	Mean float64 `json:"mean"`
	// CI95 is the central 95% credible interval of the mean reward under
	// a Beta posterior (uniform prior, plus the cold-start prior if any),
	// reaching the range's end when the counts are at it (no reward above
	// the range's low end: from lo; none below its high end: to hi).
	CI95 [2]float64 `json:"ci95"`
	// PBest is the posterior probability that this variant is the best
	// of the active ones; 0 for a retired variant, which can no longer
	// be chosen.
	PBest float64 `json:"p_best"`
}

// Stats is the answer of GET /experiments/{id}/stats.
type Stats struct {
	ExperimentID string         `json:"experiment_id"`
	Policy       string         `json:"policy"`
	Decisions    int64          `json:"decisions_rewarded"`
	Variants     []VariantStats `json:"variants"`
	// BestVariant is the active variant most likely the best, or nil
	// while the data cannot name one: the leader untried, or another
	// active variant with the same posterior (the same data and prior), or
	// a runner-up whose p_best is within the draws' noise of the leader's.
	// A single active variant is the leader.
	BestVariant *string `json:"best_variant"`
	// OffPolicy estimates, from this experiment's own logs, the mean
	// reward of the policy as it ran and of uniform random choice.
	OffPolicy *OffPolicy `json:"off_policy"`
}

// OffPolicy compares the policy, as it ran, with uniform play on the
// same decisions.
type OffPolicy struct {
	Events int `json:"events"`
	// Policy weighs every decision by the PMF it was made with: the
	// learning policy's own value on this traffic (its IPS and SNIPS are
	// the decisions' mean reward).
	Policy bandit.OffPolicyEstimate `json:"policy"`
	// Uniform is the value uniform random choice would have had.
	Uniform bandit.OffPolicyEstimate `json:"uniform"`
}

// pBestDraws is the number of posterior draws behind p_best.
const pBestDraws = 4000

// opeWindow bounds the decisions the off-policy estimate reads.
const opeWindow = 20000

// Stats summarises an experiment. Posterior draws are seeded by the
// experiment's state, so the same data always gives the same numbers.
func (s *Service) Stats(ctx context.Context, expID string) (*Stats, error) {
	l, err := s.get(ctx, expID)
	if err != nil {
		return nil, err
	}
	// The learnt rewards' totals, and those of the rewards stored since
	// (here or by another replica), read by seq: stats neither wait for
	// the policy to learn them nor leave out one already acknowledged.
	l.mu.Lock()
	e, totals, seq := l.exp, maps.Clone(l.totals), l.seq
	l.mu.Unlock()
	since, err := s.Store.Totals(ctx, expID, seq, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	for id, t := range since {
		sum := totals[id]
		sum.Trials += t.Trials
		sum.RewardSum += t.RewardSum
		totals[id] = sum
	}
	lo, hi := e.RewardRange[0], e.RewardRange[1]
	// p_best is Thompson sampling's PMF over the active variants'
	// posteriors: the share of joint posterior draws in which each is the
	// largest.
	post := bandit.NewThompson(s.Seed ^ 0x5eed)
	post.Draws = pBestDraws
	st := &Stats{ExperimentID: expID, Policy: l.policy.Name()}
	delta := map[string]bandit.BetaStats{}
	var actions []bandit.Action
	for _, v := range e.Variants {
		t := totals[v.ID]
		st.Decisions += t.Trials
		vs := VariantStats{ID: v.ID, Retired: v.Retired, Trials: t.Trials, RewardSum: t.RewardSum}
		if t.Trials > 0 {
			vs.Mean = t.RewardSum / float64(t.Trials)
		}
		// The Beta posterior of the reward scaled to [0,1].
		succ := (t.RewardSum - lo*float64(t.Trials)) / (hi - lo)
		b := bandit.BetaStats{Trials: float64(t.Trials), RewardSum: succ}
		if v.PriorCTR != nil {
			b.Trials += PriorStrength
			b.RewardSum += PriorStrength * *v.PriorCTR
		}
		b.RewardSum = min(max(b.RewardSum, 0), b.Trials)
		a, bb := 1+b.RewardSum, 1+b.Trials-b.RewardSum
		vs.CI95 = [2]float64{lo + (hi-lo)*betaQuantile(a, bb, 0.025), lo + (hi-lo)*betaQuantile(a, bb, 0.975)}
		// At a boundary (no success, or no failure, in the posterior's
		// counts) the interval reaches it: the central interval of 0
		// successes in 10 trials, [0.2%, 28%], left out the mean it was
		// an interval for (Brown, Cai and DasGupta's modification).
		// Sums of rewards such as 0.3 carry rounding: compare within it.
		if b.RewardSum <= 1e-9*b.Trials {
			vs.CI95[0] = lo
		}
		if b.Trials-b.RewardSum <= 1e-9*b.Trials {
			vs.CI95[1] = hi
		}
		delta[v.ID] = b
		if !v.Retired {
			actions = append(actions, bandit.Action{ID: v.ID})
		}
		st.Variants = append(st.Variants, vs)
	}
	post.Merge(delta)
	pmf, err := post.PMF(bandit.Context{}, actions)
	if err != nil {
		return nil, err
	}
	best, active := -1, 0
	for i, v := range st.Variants {
		if v.Retired {
			continue
		}
		st.Variants[i].PBest = pmf[active]
		active++
		if best < 0 || st.Variants[i].PBest > st.Variants[best].PBest {
			best = i
		}
	}
	if best >= 0 && clearLeader(st.Variants, best, delta) {
		st.BestVariant = &st.Variants[best].ID
	}
	if st.OffPolicy, err = s.offPolicy(ctx, l); err != nil {
		return nil, err
	}
	return st, nil
}

// clearLeader reports whether vs[best], the active variant with the
// largest p_best, can be named the best. Not when it has no trials, nor
// when another active variant has the same posterior (the same trials,
// rewards and prior: as likely the best), nor when a runner-up's p_best
// is within three standard errors of the leader's (the draws' noise
// would then pick between them). A single active variant is the leader.
func clearLeader(vs []VariantStats, best int, delta map[string]bandit.BetaStats) bool {
	leader := vs[best]
	others := 0
	for i, v := range vs {
		if i == best || v.Retired {
			continue
		}
		others++
		if samePosterior(delta[v.ID], delta[leader.ID]) {
			return false
		}
		// The difference of two shares of one multinomial sample.
		p, q := leader.PBest, v.PBest
		if se := math.Sqrt((p + q - (p-q)*(p-q)) / pBestDraws); p-q <= 3*se {
			return false
		}
	}
	return others == 0 || leader.Trials > 0
}

// samePosterior reports whether a and b are the same Beta posterior, up
// to the rounding of sums taken in different orders.
func samePosterior(a, b bandit.BetaStats) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y)) }
	return near(a.Trials, b.Trials) && near(a.RewardSum, b.RewardSum)
}

// offPolicy estimates the policy's value as it ran and uniform play's on
// the experiment's most recent rewarded decisions.
func (s *Service) offPolicy(ctx context.Context, l *live) (*OffPolicy, error) {
	js, err := s.Store.LogTail(ctx, l.experiment().ID, opeWindow)
	if err != nil {
		return nil, err
	}
	var rewarded []bandit.LoggedEvent
	for _, j := range js {
		if ev := l.loggedEvent(j); ev.Rewarded {
			rewarded = append(rewarded, ev)
		}
	}
	if len(rewarded) == 0 {
		return nil, nil
	}
	opt := bandit.EvalOptions{MaxDim: dimOf(l.experiment()), Context: ctx}
	// The policy as it ran, not its current state: that state learnt
	// these very rewards, and scored on them it favours whichever variant
	// was lucky (in an A/A test of five equal variants at 30%, Thompson
	// sampling's current state scored 35%).
	ran := opt
	ran.Logged = true
	cur, err := bandit.EvaluateWith(rewarded, nil, ran)
	if err != nil {
		return nil, err
	}
	uniform, err := bandit.ParsePolicy("epsilon-greedy:1")
	if err != nil {
		return nil, err
	}
	uni, err := bandit.EvaluateWith(rewarded, uniform, opt)
	if err != nil {
		return nil, err
	}
	return &OffPolicy{Events: len(rewarded), Policy: cur, Uniform: uni}, nil
}

// loggedEvent is a stored decision (and reward) as a bandit log event.
func (l *live) loggedEvent(j *lift.Joined) bandit.LoggedEvent {
	ev := bandit.LoggedEvent{
		EventID:   j.EventID,
		Timestamp: j.CreatedAt.UTC().Format(time.RFC3339Nano),
		Event: bandit.Event{
			Context: bandit.Context{Features: j.Context}, Actions: l.actions(j.Variants),
			Chosen: j.Chosen, Probability: j.Probability,
		},
		PMF: j.PMF,
	}
	if j.Reward != nil {
		ev.Reward, ev.Rewarded = j.Reward.Value, true
	}
	return ev
}

// WriteDSJSON writes the experiment's joined decision/reward log in
// Vowpal Wabbit's DSJSON (cost = -reward), oldest first, page by page.
func (s *Service) WriteDSJSON(ctx context.Context, expID string, w io.Writer) error {
	l, err := s.get(ctx, expID)
	if err != nil {
		return err
	}
	var after int64
	for {
		js, err := s.Store.Log(ctx, expID, after, 5000)
		if err != nil {
			return err
		}
		for _, j := range js {
			if err := bandit.WriteDSJSON(w, l.loggedEvent(j)); err != nil {
				return err
			}
			after = j.Seq
		}
		if len(js) < 5000 {
			return nil
		}
	}
}
