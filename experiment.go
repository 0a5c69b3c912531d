package lift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// MaxVariants bounds an experiment's variants, retired ones included.
const MaxVariants = 1000

// Experiment is an A/B/n test of creative variants run by a bandit policy.
type Experiment struct {
	ID       string     `json:"id"`
	Variants []Variant  `json:"variants"`
	Policy   PolicySpec `json:"policy"`
	// RewardWait is how long a decision waits for its reward before
	// DefaultReward is applied.
	RewardWait    Duration `json:"reward_wait"`
	DefaultReward float64  `json:"default_reward"`
	// RewardRange bounds accepted rewards (default [0,1]).
	RewardRange [2]float64 `json:"reward_range"`
	// PolicyDim is the bound on a linear policy's feature vector, the
	// server's: chosen when the experiment is created (for twice its
	// variants then, so that it may grow that far) and kept, so that every
	// replica and every restart learns under the same bound. 0 for other
	// policies, and for experiments created before it was kept.
	PolicyDim int       `json:"policy_dim,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Variant is one arm. Features describe it for contextual policies; a
// ClipID links it to a clip whose predicted CTR seeds its prior.
type Variant struct {
	ID       string     `json:"id"`
	Features FeatureMap `json:"features,omitempty"`
	ClipID   string     `json:"clip_id,omitempty"`
	// Retired variants are no longer chosen; what was learnt is kept.
	Retired bool `json:"retired,omitempty"`
	// PriorCTR is the cold-start prior's centre, from the CTR model.
	PriorCTR *float64 `json:"prior_ctr,omitempty"`
}

// PolicySpec names a bandit policy and its parameters.
type PolicySpec struct {
	Name   string       `json:"name"`
	Params PolicyParams `json:"params,omitempty"`
}

// PolicyParams are a policy's parameters by name. From JSON they take
// numbers only: a null would otherwise be read as 0, an epsilon of 0 (no
// exploration) where the client meant "the default" (leave the name out
// for that).
type PolicyParams map[string]float64

// UnmarshalJSON implements json.Unmarshaler.
func (m *PolicyParams) UnmarshalJSON(b []byte) error {
	out, err := numbersFromJSON(b, "parameter %q is null: give a number, or leave it out for the policy's default")
	*m = out
	return err
}

// FeatureMap is a context's or a variant's features by name. From JSON it
// takes numbers only: a null would otherwise be stored, and learnt, as 0,
// where the client meant "unknown" (leave the name out for that).
type FeatureMap map[string]float64

// UnmarshalJSON implements json.Unmarshaler.
func (m *FeatureMap) UnmarshalJSON(b []byte) error {
	out, err := numbersFromJSON(b, "feature %q is null: give a number, or leave the name out when it is unknown")
	*m = out
	return err
}

// DropNegativeZeros turns every -0 in m into 0, in place, as
// Clip.DropNegativeZeros does for a clip's numbers.
func (m FeatureMap) DropNegativeZeros() {
	for k, x := range m {
		if x == 0 {
			m[k] = 0
		}
	}
}

// numbersFromJSON reads a JSON object of numbers; a null value is an
// error, nullMsg formatted with its name. A null object is a nil map.
func numbersFromJSON(b []byte, nullMsg string) (map[string]float64, error) {
	var raw map[string]*float64
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
			// The error names the first such key: the enclosing decoder
			// adds the object's own path ("context.x"), where without the
			// key it would name the object, as if it were to be a number.
			var byName map[string]json.RawMessage
			if json.Unmarshal(b, &byName) == nil {
				bad, found := "", false
				for k, v := range byName {
					var x *float64
					if json.Unmarshal(v, &x) != nil && (!found || k < bad) {
						bad, found = k, true
					}
				}
				if found {
					return nil, &json.UnmarshalTypeError{Value: jsonKind(byName[bad]), Type: reflect.TypeFor[float64](), Field: bad}
				}
			}
		}
		return nil, err
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		if v == nil {
			return nil, fmt.Errorf(nullMsg, k)
		}
		out[k] = *v
	}
	return out, nil
}

// jsonKind names the kind of a JSON value as encoding/json's errors do.
func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// Duration is a time.Duration that reads and writes JSON as "24h".
type Duration struct{ time.Duration }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"24h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"24h\" or \"90s\"", s)
	}
	d.Duration = v
	return nil
}

// Validate checks an experiment's definition.
func (e *Experiment) Validate() error {
	if err := ValidateID("experiment id", e.ID); err != nil {
		return err
	}
	if len(e.Variants) < 2 {
		return Errorf(Invalid, "an experiment needs at least 2 variants, got %d", len(e.Variants))
	}
	if len(e.Variants) > MaxVariants {
		return Errorf(Invalid, "an experiment has at most %d variants, got %d", MaxVariants, len(e.Variants))
	}
	seen := map[string]bool{}
	for i, v := range e.Variants {
		if err := ValidateID(fmt.Sprintf("variants[%d].id", i), v.ID); err != nil {
			return err
		}
		if seen[v.ID] {
			return Errorf(Invalid, "variant id %q appears twice", v.ID)
		}
		seen[v.ID] = true
		if err := ValidateFeatureMap(fmt.Sprintf("variants[%d].features", i), v.Features); err != nil {
			return err
		}
	}
	if e.RewardWait.Duration < 0 {
		return Errorf(Invalid, "reward_wait must not be negative")
	}
	lo, hi := e.RewardRange[0], e.RewardRange[1]
	if !(lo < hi) || !(math.Abs(lo) <= MaxRewardValue && math.Abs(hi) <= MaxRewardValue) {
		return Errorf(Invalid, "reward_range must be [lo, hi] with lo < hi, both within ±%g, got %v", MaxRewardValue, e.RewardRange)
	}
	if !(e.DefaultReward >= lo && e.DefaultReward <= hi) {
		return Errorf(Invalid, "default_reward %v must lie in reward_range %v", e.DefaultReward, e.RewardRange)
	}
	return nil
}

// Ranked is one variant's probability in a decision.
type Ranked struct {
	Variant     string  `json:"variant"`
	Probability float64 `json:"probability"`
}

// Decision is a logged choice: what was known, the full PMF, what was
// played and with which probability.
type Decision struct {
	// Seq orders decisions in the store (a cursor for Log).
	Seq          int64              `json:"-"`
	ExperimentID string             `json:"experiment_id"`
	EventID      string             `json:"event_id"`
	Context      map[string]float64 `json:"context"`
	// Variants are the candidate ids in PMF order.
	Variants    []string  `json:"variants"`
	PMF         []float64 `json:"pmf"`
	Chosen      int       `json:"chosen"`
	Probability float64   `json:"probability"`
	// PolicyVersion is the seq of the last reward the policy had learnt
	// when deciding (0 before any); replicas learning the same log agree.
	PolicyVersion int64     `json:"policy_version"`
	CreatedAt     time.Time `json:"created_at"`
	Deadline      time.Time `json:"deadline"`
}

// Reward is the outcome joined to a decision.
type Reward struct {
	Seq          int64   `json:"seq"`
	ExperimentID string  `json:"experiment_id"`
	EventID      string  `json:"event_id"`
	Value        float64 `json:"reward"`
	// Default is true when reward_wait expired and default_reward was used.
	Default   bool      `json:"default"`
	CreatedAt time.Time `json:"created_at"`
	// Repeated marks an answer to a reward the event already had (a
	// client's retry): counted once, so not counted again by metrics.
	// It is never stored.
	Repeated bool `json:"-"`
}

// Joined is a decision with its reward, if any.
type Joined struct {
	Decision
	Reward *Reward `json:"reward"`
}

// VariantTotals are a variant's resolved trials and reward sum.
type VariantTotals struct {
	Trials    int64   `json:"trials"`
	RewardSum float64 `json:"reward_sum"`
}

// Play is one decision as the dashboard's timeline draws it: when, the
// variant played, and its reward if it has one.
type Play struct {
	At      time.Time
	Variant string
	Reward  *float64
}

// ChangedDefinition is what the stores' ModifyExperiment stores: the
// definition def (as stored, JSON) with change applied, and its JSON.
func ChangedDefinition(def []byte, change func(*Experiment) error) (*Experiment, []byte, error) {
	e := &Experiment{}
	if err := json.Unmarshal(def, e); err != nil {
		return nil, nil, err
	}
	if err := change(e); err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(e)
	return e, b, err
}

// TotalsJSON is how the stores keep a snapshot's totals: nil for none.
func TotalsJSON(t map[string]VariantTotals) ([]byte, error) {
	if t == nil {
		return nil, nil
	}
	return json.Marshal(t)
}

// ParseTotalsJSON reads what TotalsJSON wrote.
func ParseTotalsJSON(b []byte) (map[string]VariantTotals, error) {
	if b == nil {
		return nil, nil
	}
	var t map[string]VariantTotals
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("the snapshot's stored totals: %w", err)
	}
	if t == nil {
		t = map[string]VariantTotals{}
	}
	return t, nil
}

// ExperimentStore keeps experiments, decisions and rewards.
type ExperimentStore interface {
	// CreateExperiment stores e; Conflict if the id exists.
	CreateExperiment(ctx context.Context, e *Experiment) error
	// ModifyExperiment applies change to the stored definition and stores
	// the result, in one transaction that no other change of the
	// experiment interleaves with (replicas adding variants at once both
	// keep theirs); it returns the stored result. An error from change
	// is returned and nothing is written. change may be called again
	// (with the definition read again) if the transaction is retried.
	ModifyExperiment(ctx context.Context, id string, change func(*Experiment) error) (*Experiment, error)
	GetExperiment(ctx context.Context, id string) (*Experiment, error)
	ListExperiments(ctx context.Context) ([]*Experiment, error)
	// SaveDecision stores d and sets d.Seq; Conflict if its event id
	// exists in the experiment, NotFound if the experiment does not.
	SaveDecision(ctx context.Context, d *Decision) error
	// GetDecision returns a decision with its reward, NotFound if absent.
	GetDecision(ctx context.Context, experimentID, eventID string) (*Joined, error)
	// SaveReward stores r for its decision (NotFound if there is none)
	// and sets r.Seq. If a reward is already stored, r is not, and that
	// reward is returned as existing: an equal value is the caller's
	// retry, a different one its conflict to report.
	SaveReward(ctx context.Context, r *Reward) (existing *Reward, err error)
	// ExpiredDecisions returns up to limit decisions past their deadline
	// without a reward.
	ExpiredDecisions(ctx context.Context, now time.Time, limit int) ([]*Decision, error)
	// RewardedSince returns decisions with rewards whose seq > after, in
	// seq order. A reward it has returned never gains a stored
	// predecessor: a store whose writers commit concurrently returns only
	// rewards below which no seq can still be committed (waiting for
	// statements in flight, if it must), and a later call the rest.
	RewardedSince(ctx context.Context, experimentID string, after int64, limit int) ([]*Joined, error)
	// Log returns up to limit of the experiment's decisions with Seq >
	// after, with their rewards, oldest first.
	Log(ctx context.Context, experimentID string, after int64, limit int) ([]*Joined, error)
	// LogTail returns the experiment's latest limit decisions with their
	// rewards, oldest first.
	LogTail(ctx context.Context, experimentID string, limit int) ([]*Joined, error)
	// LogPrunedUpTo is the largest reward seq whose decision a prune of
	// the experiment's log deleted (0 if none; NotFound for no such
	// experiment).
	LogPrunedUpTo(ctx context.Context, experimentID string) (int64, error)
	// RecentPlays returns the experiment's latest limit decisions as
	// plays, oldest first: the log's tail without contexts and PMFs.
	RecentPlays(ctx context.Context, experimentID string, limit int) ([]Play, error)
	// Totals sums the resolved rewards with after < seq <= upTo by
	// chosen variant.
	Totals(ctx context.Context, experimentID string, after, upTo int64) (map[string]VariantTotals, error)
	// SaveSnapshot stores the state that has learnt the rewards up to
	// snap.Seq, unless a snapshot of a later seq is stored.
	SaveSnapshot(ctx context.Context, experimentID string, snap PolicySnapshot) error
	// Snapshot returns the latest snapshot (the zero value if none).
	Snapshot(ctx context.Context, experimentID string) (PolicySnapshot, error)
}

// MinLogPruneAge is how old a decision and its reward must be for lift
// experiments prune to delete them: every running replica has learnt
// them long before. (One that has not, paused or cut off, finds the
// prune mark past what it learnt and reloads; it never relies on this.)
const MinLogPruneAge = time.Hour

// ExperimentLogPruner deletes old decisions with their rewards, the log
// that grows with every decision (lift experiments prune).
type ExperimentLogPruner interface {
	// PruneExperimentLog deletes the experiment's rewarded decisions made
	// before before whose reward is older too and is covered by the
	// latest policy snapshot saved with totals (seq <= its seq, so that
	// what the policy and the stats learnt from them is kept), at most
	// PruneChunk per transaction, and returns how many it deleted.
	// Decisions still waiting for a reward are kept.
	PruneExperimentLog(ctx context.Context, experimentID string, before time.Time) (int64, error)
}

// PolicySnapshot is an experiment's learnt state: its policy's, and the
// totals of its rewards, as of the rewards up to Seq.
type PolicySnapshot struct {
	State []byte
	Seq   int64
	// Totals sums the rewards up to Seq by chosen variant (Totals); nil
	// when the snapshot was saved without them (by an earlier version).
	Totals map[string]VariantTotals
}

// Bounds on a context or a variant's features, as clients send them.
const (
	// MaxFeatureNames is the most names one context (or variant) carries.
	MaxFeatureNames = 256
	// MaxFeatureNameLen bounds each name, in bytes.
	MaxFeatureNameLen = 200
	// MaxContextValue bounds each value's magnitude: past any count or
	// timestamp (Unix nanoseconds are ~1.8e18), and far enough from
	// float64's overflow that squares and sums stay finite.
	MaxContextValue = 1e20
	// MaxRewardValue bounds reward_range's ends, so that sums of rewards
	// over an experiment's log stay finite.
	MaxRewardValue = 1e15
)

// ValidateFeatureMap checks a context or a variant's features: at most
// MaxFeatureNames names of at most MaxFeatureNameLen bytes, none of the
// policy's own forms (@k, #i, n*@k), each value finite and within
// ±MaxContextValue. field names the map in messages.
func ValidateFeatureMap(field string, m map[string]float64) error {
	if len(m) > MaxFeatureNames {
		return Errorf(Invalid, "%s has %d features; at most %d", field, len(m), MaxFeatureNames)
	}
	// With several bad features, the message names the first by name, so
	// that the same request always gets the same answer (a map's order
	// is random); no sorting when all are good.
	var first string
	var firstErr error
	for k, v := range m {
		if err := validateFeature(field, k, v); err != nil && (firstErr == nil || k < first) {
			first, firstErr = k, err
		}
	}
	return firstErr
}

// validateFeature checks one feature of ValidateFeatureMap's.
func validateFeature(field, k string, v float64) error {
	if k == "" || len(k) > MaxFeatureNameLen {
		return Errorf(Invalid, "%s: a feature name must be 1 to %d bytes, got %d", field, MaxFeatureNameLen, len(k))
	}
	// The policy names a variant's feature k "@k", position i of a
	// dense vector "#i", and an interaction "n*@k": a client's name
	// must not pass for one of those.
	if strings.HasPrefix(k, "@") || strings.HasPrefix(k, "#") || strings.Contains(k, "*") {
		return Errorf(Invalid, "%s: feature name %q must not start with @ or # or contain * (the policy's own names use them)", field, k)
	}
	// DSJSON (the experiment's log) reserves names that start with _
	// (_tag, _multi, _label_cost, ...); VW ignores them as features.
	if strings.HasPrefix(k, "_") {
		return Errorf(Invalid, "%s: feature name %q must not start with _ (the DSJSON log reserves those names)", field, k)
	}
	if math.IsNaN(v) || math.Abs(v) > MaxContextValue {
		return Errorf(Invalid, "%s.%s must be a finite number within ±%g, got %g", field, k, MaxContextValue, v)
	}
	return nil
}
