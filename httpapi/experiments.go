package httpapi

import (
	"context"
	"io"
	"math"
	"net/http"

	"lift"
	"lift/experiment"
)

// Experiments is the experiments engine the API drives.
type Experiments interface {
	Create(ctx context.Context, e *lift.Experiment) (*lift.Experiment, error)
	Get(ctx context.Context, id string) (*lift.Experiment, error)
	Decide(ctx context.Context, expID string, req experiment.DecideRequest) (*experiment.DecideResponse, error)
	Reward(ctx context.Context, expID, eventID string, value float64) (*lift.Reward, error)
	Stats(ctx context.Context, expID string) (*experiment.Stats, error)
	WriteDSJSON(ctx context.Context, expID string, w io.Writer) error
	AddVariant(ctx context.Context, expID string, v lift.Variant) (*lift.Experiment, error)
	RetireVariant(ctx context.Context, expID, variantID string) (*lift.Experiment, error)
}

// experimentInput is the body of POST /experiments.
type experimentInput struct {
	ID            string          `json:"id"`
	Variants      []lift.Variant  `json:"variants"`
	Policy        lift.PolicySpec `json:"policy"`
	RewardWait    *lift.Duration  `json:"reward_wait"`
	DefaultReward *float64        `json:"default_reward"`
	RewardRange   *[]float64      `json:"reward_range"`
}

func (s *Server) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var in experimentInput
	if _, err := decode(w, r, &in, false); err != nil {
		return err
	}
	e := &lift.Experiment{ID: in.ID, Variants: in.Variants, Policy: in.Policy}
	// Given, these must be usable: the service fills in a default only
	// for what was left out (an explicit zero would read as left out).
	if in.RewardWait != nil {
		if in.RewardWait.Duration <= 0 {
			return lift.Errorf(lift.Invalid, "reward_wait must be a positive duration, got %s", in.RewardWait.Duration)
		}
		e.RewardWait = *in.RewardWait
	}
	if in.DefaultReward != nil {
		e.DefaultReward = *in.DefaultReward
	}
	if in.RewardRange != nil {
		rr := *in.RewardRange
		if len(rr) != 2 || !(rr[0] < rr[1]) {
			return lift.Errorf(lift.Invalid, "reward_range must be [lo, hi] with lo < hi, got %v", rr)
		}
		e.RewardRange = [2]float64{rr[0], rr[1]}
	}
	for _, v := range e.Variants {
		if v.PriorCTR != nil || v.Retired {
			return lift.Errorf(lift.Invalid, "variant %q: prior_ctr and retired are set by the server", v.ID)
		}
	}
	out, err := s.Experiments.Create(r.Context(), e)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) getExperiment(w http.ResponseWriter, r *http.Request) error {
	e, err := s.Experiments.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// decideInput is experiment.DecideRequest as the body gives it: an
// event_id left out gets one made, but an empty one is a mistake (a
// reward could never name it).
type decideInput struct {
	EventID *string         `json:"event_id"`
	Context lift.FeatureMap `json:"context"`
	Exclude []string        `json:"exclude"`
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) error {
	var in decideInput
	if _, err := decode(w, r, &in, true); err != nil {
		return err
	}
	req := experiment.DecideRequest{Context: in.Context, Exclude: in.Exclude}
	if in.EventID != nil {
		if *in.EventID == "" {
			return lift.Errorf(lift.Invalid, "event_id, when given, must not be empty (leave it out to have one made)")
		}
		req.EventID = *in.EventID
	}
	out, err := s.Experiments.Decide(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	if !out.Repeated {
		s.Metrics.observeDecision(r.PathValue("id"), out)
	}
	return writeJSON(w, http.StatusOK, out)
}

type rewardInput struct {
	EventID *string  `json:"event_id"`
	Reward  *float64 `json:"reward"`
}

func (s *Server) reward(w http.ResponseWriter, r *http.Request) error {
	var in rewardInput
	if _, err := decode(w, r, &in, false); err != nil {
		return err
	}
	if in.EventID == nil || *in.EventID == "" {
		return lift.Errorf(lift.Invalid, "event_id is required")
	}
	if err := lift.ValidateID("event_id", *in.EventID); err != nil {
		return err
	}
	if in.Reward == nil || math.IsInf(*in.Reward, 0) {
		return lift.Errorf(lift.Invalid, "reward is required and must be a finite number")
	}
	rw, err := s.Experiments.Reward(r.Context(), r.PathValue("id"), *in.EventID, *in.Reward)
	if err != nil {
		return err
	}
	if !rw.Repeated {
		s.Metrics.observeReward(r.PathValue("id"), rw.Value)
	}
	return writeJSON(w, http.StatusOK, rw)
}

func (s *Server) experimentStats(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Experiments.Stats(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) experimentLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.Experiments.Get(r.Context(), id); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	return s.Experiments.WriteDSJSON(r.Context(), id, w)
}

func (s *Server) addVariant(w http.ResponseWriter, r *http.Request) error {
	var v lift.Variant
	if _, err := decode(w, r, &v, false); err != nil {
		return err
	}
	if v.PriorCTR != nil || v.Retired {
		return lift.Errorf(lift.Invalid, "prior_ctr and retired are set by the server")
	}
	e, err := s.Experiments.AddVariant(r.Context(), r.PathValue("id"), v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, e)
}

func (s *Server) retireVariant(w http.ResponseWriter, r *http.Request) error {
	e, err := s.Experiments.RetireVariant(r.Context(), r.PathValue("id"), r.PathValue("variant"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}
