// Package bandit chooses among actions (creative variants) with contextual
// bandit policies, learns online from logged rewards, and evaluates
// policies off-line from logs that carry propensities.
//
// A Policy maps a context and a set of actions to a full probability mass
// function (PMF) over those actions. Decide samples one action from that
// PMF with randomness derived from the decision's event id, so a decision
// can be replayed exactly, and returns the probability that was used; that
// probability is what Learn and off-policy evaluation must be given back.
//
// Every policy is safe for concurrent use by many goroutines, and its state
// can be saved with Snapshot and loaded with Restore to resume learning
// exactly where it stopped. See docs/BANDIT.md for the design.
package bandit

import (
	"errors"
	"fmt"
	"math"
)

// Context is what is known about a decision before it is made: named
// numeric features, a dense vector, or both. Vector entry i is the feature
// named "#i" (so a dense vector and named features can be mixed).
type Context struct {
	Vector   []float64          `json:"vector,omitempty"`
	Features map[string]float64 `json:"features,omitempty"`
}

// Action is one choice (a variant). ID keys the per-action state, so actions
// can be added and retired over time without disturbing the others.
// Features, when present, describe the action itself (VW's action-dependent
// features); such actions share one model over the context, the action
// features and their interactions, so a new variant benefits from what was
// learnt about similar ones.
type Action struct {
	ID       string             `json:"id"`
	Features map[string]float64 `json:"features,omitempty"`
}

// Event is one logged decision with its outcome: the learner's unit of data.
type Event struct {
	Context Context  `json:"context"`
	Actions []Action `json:"actions"`
	// Chosen is the index in Actions of the action that was played.
	Chosen int `json:"chosen"`
	// Reward is the observed reward of the chosen action (1 = click,
	// 0 = no click; any finite value is accepted, cost = -reward).
	Reward float64 `json:"reward"`
	// Probability is the logged probability with which Chosen was played,
	// in (0, 1].
	Probability float64 `json:"probability"`
}

// Validate reports the first problem that makes ev unusable for learning
// or evaluation, naming the field.
func (ev *Event) Validate() error {
	if len(ev.Actions) == 0 {
		return errors.New("event has no actions")
	}
	if ev.Chosen < 0 || ev.Chosen >= len(ev.Actions) {
		return fmt.Errorf("chosen action index %d is outside 0..%d", ev.Chosen, len(ev.Actions)-1)
	}
	if !(ev.Probability > 0 && ev.Probability <= 1) {
		return fmt.Errorf("probability %v is not in (0, 1]", ev.Probability)
	}
	if math.IsNaN(ev.Reward) || math.IsInf(ev.Reward, 0) {
		return fmt.Errorf("reward %v is not a finite number", ev.Reward)
	}
	return validateInputs(ev.Context, ev.Actions)
}

// validateInputs checks a context and an action set for values no model
// can use: non-finite numbers, empty or duplicate action ids.
func validateInputs(ctx Context, actions []Action) error {
	if len(actions) == 0 {
		return errors.New("no actions to choose from")
	}
	for i, v := range ctx.Vector {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("context vector[%d] = %v is not a finite number", i, v)
		}
	}
	for k, v := range ctx.Features {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("context feature %q = %v is not a finite number", k, v)
		}
	}
	// A map finds duplicates in large action sets; small ones (the usual
	// case, on the hot path) are checked pairwise without allocating.
	var seen map[string]struct{}
	if len(actions) > 32 {
		seen = make(map[string]struct{}, len(actions))
	}
	for i, a := range actions {
		if a.ID == "" {
			return fmt.Errorf("action %d has an empty id", i)
		}
		dup := false
		if seen != nil {
			_, dup = seen[a.ID]
			seen[a.ID] = struct{}{}
		} else {
			for _, b := range actions[:i] {
				dup = dup || b.ID == a.ID
			}
		}
		if dup {
			return fmt.Errorf("action id %q appears twice", a.ID)
		}
		for k, v := range a.Features {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("action %q feature %q = %v is not a finite number", a.ID, k, v)
			}
		}
	}
	return nil
}

// Policy is a contextual bandit policy. Implementations are safe for
// concurrent use.
type Policy interface {
	// Name is the policy's CLI name with its parameters, as ParsePolicy
	// accepts it (e.g. "epsilon-greedy:0.1").
	Name() string
	// PMF returns one probability per action, in actions' order, summing
	// to 1. It does not change the policy's state, and for a given state
	// and input it always returns the same numbers. It returns an error for
	// an empty action set, duplicate ids or non-finite features.
	PMF(ctx Context, actions []Action) ([]float64, error)
	// Learn updates the policy with one logged event; it returns an error,
	// and learns nothing, when the event is invalid (see Event.Validate).
	Learn(ev Event) error
	// Snapshot returns the policy's complete state as JSON.
	Snapshot() ([]byte, error)
	// Restore replaces the policy's state with a Snapshot of a policy of
	// the same kind; learning then continues exactly as it would have.
	Restore(data []byte) error
}

// Decision is the outcome of Decide.
type Decision struct {
	EventID string `json:"event_id"`
	// Index is the chosen action's position in the actions given to Decide.
	Index    int    `json:"index"`
	ActionID string `json:"action_id"`
	// Probability is PMF[Index]: the probability with which the action was
	// chosen, to be logged and handed back in Event.Probability.
	Probability float64 `json:"probability"`
	// PMF is the full distribution the action was sampled from.
	PMF []float64 `json:"pmf"`
}

// Decide asks p for its PMF over actions and samples one action from it.
// The randomness is a hash of (seed, eventID), so the same event id, state
// and input always give the same action: decisions can be replayed and
// audited, and a retried request does not re-roll the dice.
func Decide(p Policy, eventID string, ctx Context, actions []Action, seed uint64) (Decision, error) {
	pmf, err := p.PMF(ctx, actions)
	if err != nil {
		return Decision{}, err
	}
	i := SampleIndex(pmf, EventUniform(seed, eventID))
	return Decision{EventID: eventID, Index: i, ActionID: actions[i].ID, Probability: pmf[i], PMF: pmf}, nil
}

// SampleIndex returns the index i whose cumulative PMF interval contains u
// in [0, 1). It never returns an index whose probability is 0, even when
// rounding leaves the PMF's sum a little below u.
func SampleIndex(pmf []float64, u float64) int {
	var cum float64
	last := -1
	for i, p := range pmf {
		if p <= 0 {
			continue
		}
		last = i
		cum += p
		if u < cum {
			return i
		}
	}
	if last < 0 {
		return 0
	}
	return last
}

// EventUniform maps (seed, eventID) to a number in [0, 1) with a 64-bit
// FNV-1a hash finished by a SplitMix64 mix, so that nearby ids and seeds
// give unrelated numbers.
func EventUniform(seed uint64, eventID string) float64 {
	return float64(hashEvent(seed, eventID)>>11) / (1 << 53)
}

func hashEvent(seed uint64, eventID string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h ^= (seed >> (8 * i)) & 0xff
		h *= 1099511628211
	}
	for i := 0; i < len(eventID); i++ {
		h ^= uint64(eventID[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the SplitMix64 finaliser.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
