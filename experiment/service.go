// Package experiment runs A/B/n tests of creative variants with bandit
// policies: decide -> reward with the logged probability of every
// decision, default rewards after the wait, statistics and off-policy
// estimates, and policy state that survives restarts (snapshot + replay).
package experiment

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lift"
	"lift/bandit"
	"lift/internal/watermark"
)

// PriorStrength is the cold-start prior's weight in pseudo-impressions:
// modest, so a few hundred real trials outweigh the CTR model's guess.
const PriorStrength = 20

// snapshotEvery is how many learnt rewards trigger a policy snapshot.
const snapshotEvery = 500

// Service is the experiments engine. Set the fields; Run does its
// background work (default rewards, following other replicas).
type Service struct {
	Store lift.ExperimentStore
	// Clips and Predictor, when set, seed variants that carry a clip_id
	// with a prior centred on the clip's predicted CTR.
	Clips     lift.ClipStore
	Predictor lift.Predictor
	Now       func() time.Time
	Logger    *slog.Logger
	// Seed makes decisions reproducible: the action is drawn from the PMF
	// with randomness derived from (Seed, event id).
	Seed uint64
	// SweepEvery is how often decisions past reward_wait get their
	// default reward and the policies catch up with rewards stored by
	// other replicas (default 1s).
	SweepEvery time.Duration
	// CatchUpEvery, when set, moves learning off the reward requests: Run
	// reads the reward log of each experiment that stored rewards, every
	// CatchUpEvery. On PostgreSQL a reward is readable only once the
	// reward statements in flight beside it have finished (see
	// postgres.DB.RewardedSince), so reading after every reward would
	// mostly find nothing new, and a request that read a page of the log
	// on a busy database waited for it. 0 (SQLite, whose single writer
	// commits in seq order): the request that stores a reward learns it.
	CatchUpEvery time.Duration

	mu      sync.Mutex
	live    map[string]*live
	loading map[string]*loadCall
}

// live is an experiment's in-memory state.
type live struct {
	// learnMu serialises learning: the policy learns the stored rewards
	// in seq order, whichever replica stored them, so every replica (and
	// every restart) reaches the same state; snapshots are taken between
	// rewards, so a restart that replays rewards after the snapshot's seq
	// misses none.
	learnMu sync.Mutex
	// stale is set when the log was found pruned past what this state
	// learnt: it learns and snapshots no more, and is replaced (reload).
	stale atomic.Bool
	// reloadMu serialises the reloads of this state: one restores, the
	// others find it replaced.
	reloadMu sync.Mutex
	// stored is the highest seq of the rewards this replica stored; Run
	// reads the log (CatchUpEvery) while the policy has not learnt it.
	stored atomic.Int64

	// stateMu pairs the policy's state with the seq it has learnt up to:
	// learn holds it to change both, pmf (shared) to read both, so that a
	// decision's policy_version names the state its PMF came from.
	stateMu sync.RWMutex

	mu      sync.Mutex // guards exp (replaced, never mutated), seq, learnt, pending, totals
	exp     *lift.Experiment
	policy  bandit.Policy
	seq     int64 // highest reward seq learnt
	learnt  int64
	pending int // learnt since the last snapshot
	// totals sums the learnt rewards by chosen variant: the stats' trials
	// and reward sums, kept as rewards are learnt and saved with each
	// snapshot, so that stats do not read the whole log.
	totals map[string]lift.VariantTotals
	// defs counts the definitions this replica stored (variants added or
	// retired): refresh drops a definition it read before one of them.
	defs int64

	// pmfCache holds the last context-free PMF (Thompson sampling's
	// depends only on the learnt state and the variant set, and costs
	// hundreds of posterior draws per variant), keyed by variants and
	// reused for pmfRefresh rewards or pmfMaxAge, whichever ends first: a
	// policy a few rewards behind is still a policy, and the decision logs
	// the PMF and version it used.
	pmfCache atomic.Pointer[cachedPMF]
}

type cachedPMF struct {
	learnt int64
	seq    int64
	ids    string
	pmf    []float64
	at     time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Logger
}

// Run sweeps expired decisions until ctx ends, then snapshots every
// loaded policy. With CatchUpEvery set it also teaches the policies the
// rewards this replica stored.
func (s *Service) Run(ctx context.Context) {
	every := s.SweepEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var learn <-chan time.Time
	if s.CatchUpEvery > 0 {
		lt := time.NewTicker(s.CatchUpEvery)
		defer lt.Stop()
		learn = lt.C
	}
	for {
		select {
		case <-learn:
			for _, l := range s.loaded() {
				l.mu.Lock()
				learnt := l.seq
				l.mu.Unlock()
				if l.stored.Load() <= learnt {
					continue
				}
				if err := s.learnOrReload(ctx, l, math.MaxInt64); err != nil && ctx.Err() == nil {
					s.logger().Warn("learning stored rewards", "experiment", l.experiment().ID, "err", err)
				}
			}
		case <-ctx.Done():
			if err := s.SnapshotAll(context.WithoutCancel(ctx)); err != nil {
				s.logger().Error("saving policy snapshots", "err", err)
			}
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.logger().Warn("reward sweep failed", "err", err)
			}
			for _, l := range s.loaded() {
				if err := s.refresh(ctx, l); err != nil && ctx.Err() == nil {
					s.logger().Warn("following the experiment", "experiment", l.experiment().ID, "err", err)
				}
			}
		}
	}
}

// policySpecString turns {name, params} into ParsePolicy's syntax: the
// policy's own parameter after a colon (the spec is also the policy's
// name in stats), the others as options. Values are written in full
// ('f'): 'g' would write a seed of 20240101 as 2.0240101e+07, which is
// not a whole number to the parser.
func policySpecString(p lift.PolicySpec) string {
	spec := p.Name
	keys := make([]string, 0, len(p.Params))
	for k := range p.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opts string
	for _, k := range keys {
		v := strconv.FormatFloat(p.Params[k], 'f', -1, 64)
		if k == bandit.PolicyParam(p.Name) {
			spec += ":" + v
		} else {
			opts += "," + k + "=" + v
		}
	}
	return spec + opts
}

// newPolicy builds the experiment's policy from its spec with the cold
// start priors of variants linked to clips.
func newPolicy(e *lift.Experiment) (bandit.Policy, error) {
	p, err := bandit.ParsePolicy(policySpecString(e.Policy))
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "policy: %v", err)
	}
	return withLimits(p, e), nil
}

// storedPolicy is newPolicy for a stored experiment: an option its
// policy does not take (accepted, and ignored, by earlier versions) is
// ignored again with a warning, rather than leaving a running experiment
// without its policy.
func (s *Service) storedPolicy(e *lift.Experiment) (bandit.Policy, error) {
	p, ignored, err := bandit.ParseStoredPolicy(policySpecString(e.Policy))
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "policy: %v", err)
	}
	if len(ignored) > 0 {
		s.logger().Warn("experiment policy options ignored: the policy does not take them",
			"experiment", e.ID, "policy", e.Policy.Name, "options", ignored)
	}
	return withLimits(p, e), nil
}

// withLimits bounds a linear policy's dimension for e and gives p the
// cold start priors of e's variants. The bound is e's PolicyDim, fixed
// at creation: one taken from the current number of variants would
// differ, once variants were added, between a policy built before and
// one rebuilt after, and features first seen in between would be learnt
// by the one and not by the other. (Experiments created before
// PolicyDim was kept still take it from their variants.)
func withLimits(p bandit.Policy, e *lift.Experiment) bandit.Policy {
	if lp, ok := p.(*bandit.Linear); ok {
		lp.LimitDim(dimOf(e))
	}
	addPriors(p, e.Variants)
	return p
}

// MaxPolicyDim bounds the length of a linear policy's feature vector
// (the constant, the context and variant features, their interactions
// and, with quadratic=true, their products): each of its ridge models
// keeps two d×d matrices, 1 MiB at this bound. Clients name context
// features freely, and without a bound a few requests with thousands of
// names took hundreds of megabytes. Features first seen past it are not
// learnt.
const MaxPolicyDim = 256

// policyBudget bounds the bytes of all of a linear policy's ridge models
// together: variants without features each have a model of their own,
// and an experiment may have 1,000 of them.
const policyBudget = 64 << 20

// policyDim is the bound on φ for an experiment of variants variants:
// MaxPolicyDim, or less when variants models of two d×d float64
// matrices each would pass policyBudget (at least 16). An experiment
// keeps the bound of twice the variants it is created with (at least
// MaxPolicyDimVariants, at most lift.MaxVariants) as its PolicyDim, and
// may grow to that many (roomFor).
func policyDim(variants int) int {
	d := int(math.Sqrt(float64(policyBudget) / float64(16*max(variants, 1))))
	return min(max(d, 16), MaxPolicyDim)
}

// dimOf is e's bound on φ: its PolicyDim, or for an experiment created
// before the bound was kept, the one of its variants.
func dimOf(e *lift.Experiment) int {
	if e.PolicyDim > 0 {
		return e.PolicyDim
	}
	return policyDim(len(e.Variants))
}

// variantsWithin is how many variants' models of d features (two d×d
// float64 matrices each) fit in policyBudget: the sum policyDim inverts.
func variantsWithin(d int) int { return policyBudget / (16 * d * d) }

// MaxPolicyDimVariants is how many variants keep the whole MaxPolicyDim
// within policyBudget.
var MaxPolicyDimVariants = variantsWithin(MaxPolicyDim)

// roomFor refuses a definition with more variants than its linear
// policy's kept bound allows within policyBudget: every variant may have
// a model of that bound.
func roomFor(e *lift.Experiment) error {
	d := e.PolicyDim
	if d <= 0 {
		return nil // not linear, or created before the bound was kept
	}
	if most := variantsWithin(d); len(e.Variants) > most {
		return lift.Errorf(lift.Conflict, "experiment %q's policy keeps a model of up to %d features per variant, chosen when it was created; "+
			"%d variants would take it past its memory budget (%d MiB, at most %d variants): create a new experiment with the variants it needs (its bound is chosen for twice as many)",
			e.ID, d, len(e.Variants), policyBudget>>20, most)
	}
	return nil
}

// addPriors gives Thompson sampling a Beta prior of PriorStrength
// pseudo-trials centred on each variant's PriorCTR. Pseudo-trials are
// what a Beta prior is, and they are additive like the real counts. A
// variant the policy already has statistics for (from its creation, or a
// restored snapshot) already has its prior.
func addPriors(p bandit.Policy, vs []lift.Variant) {
	th, ok := p.(*bandit.Thompson)
	if !ok {
		return
	}
	priors := map[string]bandit.BetaStats{}
	for _, v := range vs {
		if v.PriorCTR != nil {
			priors[v.ID] = bandit.BetaStats{Trials: PriorStrength, RewardSum: PriorStrength * *v.PriorCTR}
		}
	}
	th.AddPriors(priors)
}

// Create validates and stores a new experiment and starts its policy.
// Without a policy name it picks Beta-Bernoulli Thompson sampling for
// plain A/B/n (no variant features) and the contextual default otherwise.
func (s *Service) Create(ctx context.Context, e *lift.Experiment) (*lift.Experiment, error) {
	if e.RewardRange == [2]float64{} {
		e.RewardRange = [2]float64{0, 1}
	}
	if e.RewardWait.Duration == 0 {
		e.RewardWait.Duration = 24 * time.Hour
	}
	if e.Policy.Name == "" {
		e.Policy.Name = "thompson"
		for _, v := range e.Variants {
			if len(v.Features) > 0 {
				e.Policy.Name = "default"
			}
		}
	}
	// -0 is stored as 0, as in rewards: one database keeps the sign and
	// the other drops it.
	for _, x := range []*float64{&e.DefaultReward, &e.RewardRange[0], &e.RewardRange[1]} {
		if *x == 0 {
			*x = 0
		}
	}
	for _, v := range e.Variants {
		v.Features.DropNegativeZeros()
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if e.PolicyDim != 0 {
		return nil, lift.Errorf(lift.Invalid, "policy_dim is the server's (the bound it keeps on a linear policy's features); leave it out")
	}
	if e.Policy.Name == "thompson" && (e.RewardRange[0] < 0 || e.RewardRange[1] > 1) {
		return nil, lift.Errorf(lift.Invalid, "thompson sampling needs rewards in [0,1]; reward_range is %v", e.RewardRange)
	}
	for i := range e.Variants {
		if err := s.seedPrior(ctx, &e.Variants[i]); err != nil {
			return nil, err
		}
	}
	p, err := newPolicy(e)
	if err != nil {
		return nil, err
	}
	if lp, ok := p.(*bandit.Linear); ok {
		e.PolicyDim = policyDim(min(max(2*len(e.Variants), MaxPolicyDimVariants), lift.MaxVariants))
		lp.LimitDim(e.PolicyDim)
	}
	e.CreatedAt = lift.StoredTime(s.now())
	if err := s.Store.CreateExperiment(ctx, e); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.keep(&live{exp: e, policy: p, totals: map[string]lift.VariantTotals{}})
	s.mu.Unlock()
	return e, nil
}

// seedPrior sets a clip-linked variant's prior from the CTR model.
func (s *Service) seedPrior(ctx context.Context, v *lift.Variant) error {
	if v.ClipID == "" || s.Clips == nil || s.Predictor == nil {
		return nil
	}
	c, err := s.Clips.GetClip(ctx, v.ClipID)
	if err != nil {
		if lift.KindOf(err) == lift.NotFound {
			return lift.Errorf(lift.Invalid, "variant %q: clip %q not found", v.ID, v.ClipID)
		}
		return err
	}
	f := c.Features()
	if err := f.CheckStored(v.ClipID); err != nil {
		return lift.Errorf(lift.Invalid, "variant %q: %s", v.ID, lift.Message(err))
	}
	p, err := s.Predictor.Predict(f)
	if err != nil {
		return err
	}
	ctr := p.PredictedCTR
	v.PriorCTR = &ctr
	return nil
}

// get returns the live experiment, loading it (snapshot + replay) on
// first use.
func (s *Service) get(ctx context.Context, id string) (*live, error) {
	s.mu.Lock()
	if l, ok := s.live[id]; ok {
		s.mu.Unlock()
		return l, nil
	}
	// Restoring replays the rewards after the last snapshot, which can
	// take a while: do it outside s.mu, once per experiment however many
	// requests ask, and not bound to the first asker's request.
	c, loading := s.loading[id]
	if !loading {
		c = &loadCall{done: make(chan struct{})}
		if s.loading == nil {
			s.loading = map[string]*loadCall{}
		}
		s.loading[id] = c
	}
	s.mu.Unlock()
	if !loading {
		c.l, c.err = s.load(context.WithoutCancel(ctx), id)
		s.mu.Lock()
		delete(s.loading, id)
		if c.err == nil {
			s.keep(c.l)
		}
		s.mu.Unlock()
		close(c.done)
	}
	select {
	case <-c.done:
		return c.l, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// keep makes l this replica's live state of its experiment; the caller
// holds s.mu.
func (s *Service) keep(l *live) {
	if s.live == nil {
		s.live = map[string]*live{}
	}
	s.live[l.exp.ID] = l
}

// loadCall is one experiment being restored.
type loadCall struct {
	done chan struct{}
	l    *live
	err  error
}

func (s *Service) load(ctx context.Context, id string) (*live, error) {
	e, err := s.Store.GetExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.restore(ctx, e)
}

// restore rebuilds an experiment's policy: the latest snapshot, then
// every reward stored after it, learnt in order. Should a prune of the
// log delete rewards after the snapshot it read before they were learnt
// (another replica saved a newer snapshot, and the prune followed it),
// it starts again from the newer snapshot.
func (s *Service) restore(ctx context.Context, e *lift.Experiment) (*live, error) {
	for tries := 1; ; tries++ {
		l, err := s.restoreSnapshot(ctx, e)
		if err != nil {
			return nil, err
		}
		if err = s.catchUp(ctx, l); !errors.Is(err, errPrunedPast) || tries == 3 {
			if err != nil {
				return nil, err
			}
			return l, nil
		}
		if e, err = s.Store.GetExperiment(ctx, e.ID); err != nil {
			return nil, err
		}
	}
}

// restoreSnapshot is the experiment's state as of its latest snapshot.
func (s *Service) restoreSnapshot(ctx context.Context, e *lift.Experiment) (*live, error) {
	p, err := s.storedPolicy(e)
	if err != nil {
		return nil, err
	}
	l := &live{exp: e, policy: p}
	snap, err := s.Store.Snapshot(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	if snap.State != nil {
		if err := p.Restore(snap.State); err != nil {
			return nil, fmt.Errorf("experiment %q: restoring the policy snapshot: %w", e.ID, err)
		}
		l.seq = snap.Seq
		addPriors(p, e.Variants) // variants added after the snapshot
	}
	switch l.totals = snap.Totals; {
	case l.totals != nil:
	case l.seq == 0:
		l.totals = map[string]lift.VariantTotals{}
	default:
		// A snapshot saved without totals (by an earlier version): sum
		// the log once, up to the snapshot.
		if l.totals, err = s.Store.Totals(ctx, e.ID, 0, l.seq); err != nil {
			return nil, err
		}
		if mark, err := s.Store.LogPrunedUpTo(ctx, e.ID); err == nil && mark > 0 {
			s.logger().Warn("the policy snapshot has no totals and the log was pruned: stats count only the rewards still in the log",
				"experiment", e.ID)
		}
	}
	return l, nil
}

// catchUpPage is how many rewards catchUpTo reads at a time.
const catchUpPage = 1000

// catchUp teaches l's policy, in seq order, every stored reward it has
// not learnt (its own replica's and the others'), and snapshots the
// state every snapshotEvery rewards.
func (s *Service) catchUp(ctx context.Context, l *live) error {
	return s.catchUpTo(ctx, l, math.MaxInt64)
}

// catchUpTo is catchUp, but does nothing when the policy has learnt up
// to seq by the time the lock is taken (rewards arriving together are
// learnt by whichever gets the lock first, with one read of the log).
func (s *Service) catchUpTo(ctx context.Context, l *live, seq int64) error {
	l.learnMu.Lock()
	defer l.learnMu.Unlock()
	l.mu.Lock()
	done := l.seq >= seq
	l.mu.Unlock()
	if done {
		return nil
	}
	if l.stale.Load() {
		return errPrunedPast
	}
	id := l.experiment().ID
	for {
		l.mu.Lock()
		after := l.seq
		l.mu.Unlock()
		js, err := s.Store.RewardedSince(ctx, id, after, catchUpPage)
		if err != nil {
			return err
		}
		// The prune mark, read after the page: a prune that deleted
		// rewards after after before the page was read raised it in the
		// same commit. (A prune since then deleted nothing this page
		// lacks.) Checked on every page: a reward's age is the storing
		// replica's clock's, and a replica whose clock is behind can
		// store one that a prune deletes before any other learnt it.
		mark, err := s.Store.LogPrunedUpTo(ctx, id)
		if err != nil {
			return err
		}
		if mark > after {
			l.stale.Store(true)
			return errPrunedPast
		}
		// A variant added by another replica is learnt with its features
		// and after its prior, as everywhere else: read the definition,
		// which was stored before any decision could play the variant.
		if l.lacksVariants(js) {
			e, defs, err := s.stored(ctx, l)
			if err != nil {
				return err
			}
			l.follow(e, defs)
		}
		for _, j := range js {
			if err := l.learn(&j.Decision, j.Reward); err != nil {
				s.logger().Warn("policy refused a reward", "experiment", id, "event", j.EventID, "err", err)
			}
		}
		if len(js) < catchUpPage {
			return s.snapshotIfDue(ctx, l)
		}
	}
}

// errPrunedPast: the log was pruned past the rewards a state had learnt.
var errPrunedPast = errors.New("the experiment's log was pruned past the rewards this replica had learnt")

// learnOrReload is catchUpTo, and when the log was pruned past what l
// learnt, a reload of the experiment from its snapshot.
func (s *Service) learnOrReload(ctx context.Context, l *live, seq int64) error {
	err := s.catchUpTo(ctx, l, seq)
	if errors.Is(err, errPrunedPast) {
		return s.reload(ctx, l)
	}
	return err
}

// refresh follows what other replicas changed: the experiment's
// definition (variants added or retired) and the rewards they stored.
func (s *Service) refresh(ctx context.Context, l *live) error {
	e, defs, err := s.stored(ctx, l)
	if err != nil {
		return err
	}
	l.follow(e, defs)
	// A state behind a prune of the log finds the mark as it reads the
	// log, and is reloaded from the snapshot.
	return s.learnOrReload(ctx, l, math.MaxInt64)
}

// stored reads l's experiment as stored, and the count of this
// replica's own changes to it before the read (for follow).
func (s *Service) stored(ctx context.Context, l *live) (*lift.Experiment, int64, error) {
	l.mu.Lock()
	defs, id := l.defs, l.exp.ID
	l.mu.Unlock()
	e, err := s.Store.GetExperiment(ctx, id)
	return e, defs, err
}

// follow makes e, read from the store after l.defs was defs, l's
// definition, unless a variant was added or retired here since (that
// change is newer than e), with the priors of the variants it adds.
func (l *live) follow(e *lift.Experiment, defs int64) {
	l.mu.Lock()
	changed := l.defs == defs && !reflect.DeepEqual(e.Variants, l.exp.Variants)
	if changed {
		l.exp = e
	}
	l.mu.Unlock()
	if changed {
		addPriors(l.policy, e.Variants)
		l.pmfCache.Store(nil)
	}
}

// lacksVariants reports whether a decision of js names a variant l's
// definition does not have yet: one another replica added since this one
// last read the definition.
func (l *live) lacksVariants(js []*lift.Joined) bool {
	e := l.experiment()
	have := make(map[string]bool, len(e.Variants))
	for _, v := range e.Variants {
		have[v.ID] = true
	}
	for _, j := range js {
		for _, id := range j.Variants {
			if !have[id] {
				return true
			}
		}
	}
	return false
}

// reload replaces l, found stale, as this replica's state of its
// experiment with one restored from the stored snapshot (and the rewards
// after it). Concurrent calls restore once.
func (s *Service) reload(ctx context.Context, l *live) error {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	id := l.experiment().ID
	if !s.isLive(l) {
		return nil // replaced already
	}
	e, defs, err := s.stored(ctx, l)
	if err != nil {
		return err
	}
	fresh, err := s.restore(ctx, e)
	if err != nil {
		return err
	}
	s.logger().Info("reloaded the policy from its snapshot: rewards it had not learnt were pruned from the log",
		"experiment", id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[id] == l {
		// A variant added or retired here during the restore is newer
		// than e: keep it (AddVariant and RetireVariant change l.exp and
		// l.defs together).
		l.mu.Lock()
		if l.defs != defs {
			fresh.exp, fresh.defs = l.exp, l.defs
			addPriors(fresh.policy, l.exp.Variants)
		}
		l.mu.Unlock()
		s.live[id] = fresh
	}
	return nil
}

// isLive reports whether l is this replica's current state of its
// experiment.
func (s *Service) isLive(l *live) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[l.experiment().ID] == l
}

// snapshotIfDue saves the policy after snapshotEvery new rewards; the
// caller holds l.learnMu.
func (s *Service) snapshotIfDue(ctx context.Context, l *live) error {
	l.mu.Lock()
	due := l.pending >= snapshotEvery
	l.mu.Unlock()
	if !due {
		return nil
	}
	return s.saveSnapshot(ctx, l)
}

// loaded returns the experiments this replica has in memory.
func (s *Service) loaded() []*live {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := make([]*live, 0, len(s.live))
	for _, l := range s.live {
		ls = append(ls, l)
	}
	return ls
}

// learn teaches the policy one (decision, reward) pair with the logged
// probability; the caller holds l.learnMu (or owns l alone).
func (l *live) learn(d *lift.Decision, r *lift.Reward) error {
	ev := bandit.Event{
		Context:     bandit.Context{Features: d.Context},
		Actions:     l.actions(d.Variants),
		Chosen:      d.Chosen,
		Reward:      r.Value,
		Probability: d.Probability,
	}
	l.stateMu.Lock()
	defer l.stateMu.Unlock()
	err := l.policy.Learn(ev)
	l.mu.Lock()
	if d.Chosen >= 0 && d.Chosen < len(d.Variants) {
		t := l.totals[d.Variants[d.Chosen]]
		t.Trials++
		t.RewardSum += r.Value
		l.totals[d.Variants[d.Chosen]] = t
	}
	l.seq = max(l.seq, r.Seq)
	l.learnt++
	l.pending++
	l.mu.Unlock()
	return err
}

// experiment returns the current definition (replaced on change, never
// mutated, so the caller may read it without the lock).
func (l *live) experiment() *lift.Experiment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exp
}

// actions maps variant ids to bandit actions with their current features.
func (l *live) actions(ids []string) []bandit.Action {
	feats := map[string]map[string]float64{}
	for _, v := range l.experiment().Variants {
		feats[v.ID] = v.Features
	}
	out := make([]bandit.Action, len(ids))
	for i, id := range ids {
		out[i] = bandit.Action{ID: id, Features: feats[id]}
	}
	return out
}

// DecideRequest is the body of POST /experiments/{id}/decide.
type DecideRequest struct {
	EventID string          `json:"event_id"`
	Context lift.FeatureMap `json:"context"`
	Exclude []string        `json:"exclude"`
}

// DecideResponse is its answer.
type DecideResponse struct {
	EventID     string        `json:"event_id"`
	Variant     string        `json:"variant"`
	Probability float64       `json:"probability"`
	Ranking     []lift.Ranked `json:"ranking"`
	// PolicyVersion is the seq of the last reward the deciding policy had
	// learnt (0 before any): the same on every replica and after restarts.
	PolicyVersion int64 `json:"policy_version"`
	// Repeated marks the stored decision of an event id decided before,
	// answered again: not a new decision, for metrics.
	Repeated bool `json:"-"`
}

// Decide chooses a variant. The decision (context, PMF, chosen variant,
// its probability) is stored before it is returned; repeating an event id
// returns the stored decision, and is Conflict if the request cannot be a
// retry of the one that made it (sameRequest).
func (s *Service) Decide(ctx context.Context, expID string, req DecideRequest) (*DecideResponse, error) {
	l, err := s.get(ctx, expID)
	if err != nil {
		return nil, err
	}
	if req.EventID == "" {
		req.EventID = s.newEventID()
	} else if err := lift.ValidateID("event_id", req.EventID); err != nil {
		return nil, err
	}
	if err := lift.ValidateFeatureMap("context", req.Context); err != nil {
		return nil, err
	}
	excluded := map[string]bool{}
	for _, id := range req.Exclude {
		excluded[id] = true
	}
	l.mu.Lock()
	e := l.exp
	l.mu.Unlock()
	var ids []string
	for _, v := range e.Variants {
		if !v.Retired && !excluded[v.ID] {
			ids = append(ids, v.ID)
		}
	}
	if len(ids) == 0 {
		return nil, lift.Errorf(lift.Invalid, "no variant left to choose after exclude")
	}
	now := lift.StoredTime(s.now())
	pmf, version, err := l.pmf(req.Context, ids, now)
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "%v", err)
	}
	// The draw hashes the experiment's id with the event's: one event id
	// used in several experiments (a page view's, say) gets independent
	// draws in each, not the same position in every PMF. Ids hold no
	// control characters, so the separator keeps pairs apart.
	chosen := bandit.SampleIndex(pmf, bandit.EventUniform(s.Seed, expID+"\x1f"+req.EventID))
	d := &lift.Decision{
		ExperimentID: expID, EventID: req.EventID, Context: req.Context, Variants: ids, PMF: pmf,
		Chosen: chosen, Probability: pmf[chosen], PolicyVersion: version,
		CreatedAt: now, Deadline: now.Add(e.RewardWait.Duration),
	}
	if d.Context == nil {
		d.Context = map[string]float64{}
	}
	if err := s.Store.SaveDecision(ctx, d); err != nil {
		if lift.KindOf(err) != lift.Conflict {
			return nil, err
		}
		j, gerr := s.Store.GetDecision(ctx, expID, req.EventID)
		if gerr != nil {
			return nil, gerr
		}
		if err := sameRequest(&j.Decision, req, excluded); err != nil {
			return nil, err
		}
		out := response(&j.Decision)
		out.Repeated = true
		return out, nil
	}
	return response(d), nil
}

// sameRequest is nil when req may be a retry of the request that made d
// (an event id decided before): the same context, and no exclusion of the
// variant d chose. Anything else is Conflict, as a reward of another
// value is: answering the stored decision would give the client a
// variant it excluded, or a decision made for another context. (The
// candidates may differ from d's while being a retry: variants can be
// added or retired in between.)
func sameRequest(d *lift.Decision, req DecideRequest, excluded map[string]bool) error {
	chosen := d.Variants[d.Chosen]
	if excluded[chosen] {
		return lift.Errorf(lift.Conflict, "event %q was decided before as %q, which this request excludes; use a new event id", req.EventID, chosen)
	}
	if len(d.Context) != len(req.Context) {
		return lift.Errorf(lift.Conflict, "event %q was decided before with another context; use a new event id", req.EventID)
	}
	for k, v := range req.Context {
		if w, ok := d.Context[k]; !ok || w != v {
			return lift.Errorf(lift.Conflict, "event %q was decided before with another context (%q: %v, now %v); use a new event id", req.EventID, k, w, v)
		}
	}
	return nil
}

// pmfRefresh is how many rewards a cached context-free PMF may lag, and
// pmfMaxAge how long it may be reused: under load the rewards bound it;
// in a quiet experiment the age does, so that replicas which learnt the
// same rewards decide with the same PMF within moments, not after the
// next sixteen rewards.
const (
	pmfRefresh = 16
	pmfMaxAge  = time.Second
)

// pmf is the policy's distribution over ids and the policy version it
// reflects: from the cache when the policy ignores the context, fewer
// than pmfRefresh rewards were learnt since and it is younger than
// pmfMaxAge at now.
func (l *live) pmf(ctx map[string]float64, ids []string, now time.Time) ([]float64, int64, error) {
	l.stateMu.RLock()
	defer l.stateMu.RUnlock()
	l.mu.Lock()
	learnt, seq := l.learnt, l.seq
	l.mu.Unlock()
	_, contextFree := l.policy.(*bandit.Thompson)
	key := strings.Join(ids, "\x00")
	if c := l.pmfCache.Load(); contextFree && c != nil && learnt-c.learnt < pmfRefresh && c.ids == key && now.Sub(c.at) < pmfMaxAge {
		return c.pmf, c.seq, nil
	}
	pmf, err := l.policy.PMF(bandit.Context{Features: ctx}, l.actions(ids))
	if err == nil && contextFree {
		l.pmfCache.Store(&cachedPMF{learnt: learnt, seq: seq, ids: key, pmf: pmf, at: now})
	}
	return pmf, seq, err
}

func response(d *lift.Decision) *DecideResponse {
	r := &DecideResponse{EventID: d.EventID, Variant: d.Variants[d.Chosen], Probability: d.Probability, PolicyVersion: d.PolicyVersion}
	for i, id := range d.Variants {
		r.Ranking = append(r.Ranking, lift.Ranked{Variant: id, Probability: d.PMF[i]})
	}
	sort.SliceStable(r.Ranking, func(i, j int) bool { return r.Ranking[i].Probability > r.Ranking[j].Probability })
	return r
}

// newEventID returns a unique id that sorts by creation time: 8 bytes of
// the clock in nanoseconds, then 8 random bytes, in hex. Time order keeps
// the stores' (experiment, event id) indexes append-mostly, so a group
// commit rewrites a few index pages instead of one page per decision.
// The decision's randomness is derived from the id and the seed.
func (s *Service) newEventID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.now().UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// Reward joins a reward to its decision: stored once, learnt once. The
// same value again is accepted and counted once; a different value, or a
// reward after the default was applied, is Conflict; an unknown event is
// NotFound; a value outside the reward range is Invalid.
func (s *Service) Reward(ctx context.Context, expID, eventID string, value float64) (*lift.Reward, error) {
	l, err := s.get(ctx, expID)
	if err != nil {
		return nil, err
	}
	rr := l.experiment().RewardRange
	lo, hi := rr[0], rr[1]
	if math.IsNaN(value) || value < lo || value > hi {
		return nil, lift.Errorf(lift.Invalid, "reward %v is outside the experiment's range [%v, %v]", value, lo, hi)
	}
	if value == 0 {
		value = 0 // not -0, whose sign one database keeps and the other drops
	}
	return s.reward(ctx, l, &lift.Reward{ExperimentID: expID, EventID: eventID, Value: value})
}

func (s *Service) reward(ctx context.Context, l *live, r *lift.Reward) (*lift.Reward, error) {
	r.CreatedAt = lift.StoredTime(s.now())
	existing, err := s.Store.SaveReward(ctx, r)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		switch {
		case existing.Default && !r.Default:
			return nil, lift.Errorf(lift.Conflict, "event %q waited past reward_wait; the default reward %v was applied", r.EventID, existing.Value)
		case existing.Value != r.Value:
			return nil, lift.Errorf(lift.Conflict, "event %q already has reward %v; refusing %v", r.EventID, existing.Value, r.Value)
		}
		existing.Repeated = true
		return existing, nil
	}
	// The reward is stored: that is what makes it count. The policy
	// learns it from the log, in seq order: now, or at Run's next
	// catch-up.
	if s.CatchUpEvery > 0 {
		watermark.Raise(&l.stored, r.Seq)
		return r, nil
	}
	// A state found behind a prune is reloaded by the next refresh, not
	// on this request.
	if err := s.catchUpTo(ctx, l, r.Seq); err != nil && !errors.Is(err, errPrunedPast) {
		s.logger().Warn("learning stored rewards", "experiment", r.ExperimentID, "err", err)
	}
	return r, nil
}

// Sweep applies default_reward to decisions whose reward_wait expired.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		ds, err := s.Store.ExpiredDecisions(ctx, s.now(), 500)
		if err != nil {
			return n, err
		}
		failed := 0
		for _, d := range ds {
			// One broken experiment must not hold up everyone's defaults.
			l, err := s.get(ctx, d.ExperimentID)
			if err == nil {
				_, err = s.reward(ctx, l, &lift.Reward{ExperimentID: d.ExperimentID, EventID: d.EventID, Value: l.experiment().DefaultReward, Default: true})
			}
			if err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				s.logger().Warn("applying a default reward", "experiment", d.ExperimentID, "event", d.EventID, "err", err)
				failed++
				continue
			}
			n++
		}
		if failed == len(ds) && failed > 0 {
			return n, fmt.Errorf("%d expired decisions could not get their default reward", failed)
		}
		if len(ds) < 500 {
			return n, nil
		}
	}
}

// saveSnapshot saves l's policy state with the seq of the last reward it
// has learnt; the caller holds l.learnMu, so no reward is half learnt.
func (s *Service) saveSnapshot(ctx context.Context, l *live) error {
	if l.stale.Load() {
		return nil // what it learnt misses pruned rewards: not a snapshot
	}
	state, err := l.policy.Snapshot()
	if err != nil {
		return err
	}
	l.mu.Lock()
	snap := lift.PolicySnapshot{State: state, Seq: l.seq, Totals: maps.Clone(l.totals)}
	id := l.exp.ID
	l.mu.Unlock()
	if err := s.Store.SaveSnapshot(ctx, id, snap); err != nil {
		return err
	}
	l.mu.Lock()
	l.pending = 0
	l.mu.Unlock()
	return nil
}

// SnapshotAll saves every loaded policy's state (at shutdown).
func (s *Service) SnapshotAll(ctx context.Context) error {
	for _, l := range s.loaded() {
		l.learnMu.Lock()
		err := s.saveSnapshot(ctx, l)
		l.learnMu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// AddVariant adds a variant to a running experiment; what was learnt
// about the others is kept (policy state is keyed by variant id).
func (s *Service) AddVariant(ctx context.Context, expID string, v lift.Variant) (*lift.Experiment, error) {
	l, err := s.get(ctx, expID)
	if err != nil {
		return nil, err
	}
	if err := s.seedPrior(ctx, &v); err != nil {
		return nil, err
	}
	v.Features.DropNegativeZeros()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The change is made to the stored definition, which may hold what
	// another replica changed since this one last read it.
	e, err := s.Store.ModifyExperiment(ctx, expID, func(e *lift.Experiment) error {
		for _, old := range e.Variants {
			if old.ID == v.ID { // retired ones too: their statistics keep the id
				return lift.Errorf(lift.Conflict, "variant %q already exists in experiment %q", v.ID, expID)
			}
		}
		e.Variants = append(e.Variants, v)
		if err := roomFor(e); err != nil {
			return err
		}
		return e.Validate()
	})
	if err != nil {
		return nil, err
	}
	addPriors(l.policy, e.Variants)
	l.exp = e
	l.defs++
	return e, nil
}

// RetireVariant stops choosing a variant; its statistics stay.
func (s *Service) RetireVariant(ctx context.Context, expID, variantID string) (*lift.Experiment, error) {
	l, err := s.get(ctx, expID)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, err := s.Store.ModifyExperiment(ctx, expID, func(e *lift.Experiment) error {
		found, active := false, 0
		for i := range e.Variants {
			if e.Variants[i].ID == variantID {
				e.Variants[i].Retired, found = true, true
			}
			if !e.Variants[i].Retired {
				active++
			}
		}
		if !found {
			return lift.Errorf(lift.NotFound, "variant %q not found in experiment %q", variantID, expID)
		}
		if active == 0 {
			return lift.Errorf(lift.Conflict, "cannot retire the last active variant of experiment %q", expID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	addPriors(l.policy, e.Variants) // variants another replica added
	l.exp = e
	l.defs++
	return e, nil
}

// Get returns an experiment's definition.
func (s *Service) Get(ctx context.Context, id string) (*lift.Experiment, error) {
	l, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exp, nil
}
