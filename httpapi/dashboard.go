package httpapi

import (
	"bytes"
	"context"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"time"

	"lift"
	"lift/gbdt"
)

// The dashboard: a static shell (public: HTML, JS and CSS only, embedded)
// whose pages read everything through the JSON API below with the bearer
// token the user types in, so without the token it shows nothing.

//go:embed ui
var uiFiles embed.FS

// DashboardStore is the read side the dashboard needs beyond lift's
// stores. Both sqlite.DB and postgres.DB implement it; the server finds it
// on Clips (the same database), so wiring needs nothing new.
type DashboardStore interface {
	// PredictionCounts counts recorded predictions by band and model
	// version (0 for the heuristic).
	PredictionCounts(ctx context.Context) (map[lift.Band]map[int64]int64, error)
	// ClipOutcomes returns a clip's latest limit outcomes, oldest first.
	ClipOutcomes(ctx context.Context, clipID string, limit int) ([]*lift.Outcome, error)
	// ClipPredictions returns a clip's latest limit recorded predictions,
	// newest first.
	ClipPredictions(ctx context.Context, clipID string, limit int) ([]*lift.Prediction, error)
}

// ExperimentLog lists experiments and reads their decision logs; every
// lift.ExperimentStore is one, found on Clips like DashboardStore.
type ExperimentLog interface {
	ListExperiments(ctx context.Context) ([]*lift.Experiment, error)
	RecentPlays(ctx context.Context, experimentID string, limit int) ([]lift.Play, error)
}

// Explainer attributes a prediction to every feature without recording
// it (trainer.Serving is one).
type Explainer interface {
	Contributions(f lift.Features) (p lift.Prediction, cs []lift.Contribution, bias float64, err error)
}

func (s *Server) dashboardStore() (DashboardStore, error) {
	if d, ok := s.Clips.(DashboardStore); ok {
		return d, nil
	}
	return nil, lift.Errorf(lift.Unavailable, "this database does not answer dashboard queries")
}

func (s *Server) experimentLogStore() (ExperimentLog, error) {
	if l, ok := s.Clips.(ExperimentLog); ok {
		return l, nil
	}
	return nil, lift.Errorf(lift.Unavailable, "this database keeps no experiments")
}

// dashboardIndex serves the shell at exactly "/" (the pattern's {$}): a
// GET of any other unrouted path is the fallback's, a 404, or a 405 on a
// path with routes for other methods.
func (s *Server) dashboardIndex(w http.ResponseWriter, r *http.Request) error {
	return s.serveUI(w, "index.html")
}

func (s *Server) dashboardAsset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if name == "index.html" || path.Base(name) != name {
		return lift.Errorf(lift.NotFound, "no dashboard asset %q", name)
	}
	return s.serveUI(w, name)
}

func (s *Server) serveUI(w http.ResponseWriter, name string) error {
	b, err := fs.ReadFile(uiFiles, "ui/"+name)
	if err != nil {
		return lift.Errorf(lift.NotFound, "no dashboard asset %q", name)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	// Everything is same-origin: no CDN, no inline script, so the page
	// works offline and an injected script cannot run.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	_, err = w.Write(b)
	return err
}

// limitParam reads ?limit=N with a default and a maximum.
func limitParam(r *http.Request, def, max int) (int, error) {
	q := r.URL.Query().Get("limit")
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, lift.Errorf(lift.Invalid, "limit must be an integer in [1, %d], got %q", max, q)
	}
	return n, nil
}

// bandCount is one row of the prediction summary.
type bandCount struct {
	Band lift.Band `json:"band"`
	// ModelVersion is nil for the heuristic.
	ModelVersion *int64 `json:"model_version"`
	Count        int64  `json:"count"`
}

func (s *Server) predictionSummary(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dashboardStore()
	if err != nil {
		return err
	}
	counts, err := d.PredictionCounts(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Total  int64               `json:"total"`
		ByBand map[lift.Band]int64 `json:"by_band"`
		Counts []bandCount         `json:"counts"`
	}{ByBand: map[lift.Band]int64{}, Counts: []bandCount{}}
	for _, b := range []lift.Band{lift.Viral, lift.High, lift.Medium, lift.Low} {
		out.ByBand[b] = 0
	}
	for band, byVersion := range counts {
		for v, n := range byVersion {
			c := bandCount{Band: band, Count: n}
			if v != 0 {
				c.ModelVersion = &v
			}
			out.Counts = append(out.Counts, c)
			out.ByBand[band] += n
			out.Total += n
		}
	}
	sort.Slice(out.Counts, func(i, j int) bool {
		a, b := out.Counts[i], out.Counts[j]
		va, vb := int64(0), int64(0)
		if a.ModelVersion != nil {
			va = *a.ModelVersion
		}
		if b.ModelVersion != nil {
			vb = *b.ModelVersion
		}
		if va != vb {
			return va < vb
		}
		return a.Band < b.Band
	})
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) clipOutcomes(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dashboardStore()
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 1000, 10000)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Clips.GetClip(r.Context(), id); err != nil {
		return err
	}
	os, err := d.ClipOutcomes(r.Context(), id, limit)
	if err != nil {
		return err
	}
	if os == nil {
		os = []*lift.Outcome{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"clip_id": id, "outcomes": os})
}

func (s *Server) clipPredictions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dashboardStore()
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 20, 1000)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.Clips.GetClip(r.Context(), id); err != nil {
		return err
	}
	ps, err := d.ClipPredictions(r.Context(), id, limit)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []*lift.Prediction{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"clip_id": id, "predictions": ps})
}

// clipExplain predicts for a stored clip with every SHAP contribution,
// and records nothing: looking at a clip is not serving it.
func (s *Server) clipExplain(w http.ResponseWriter, r *http.Request) error {
	ex, ok := s.Predictor.(Explainer)
	if !ok {
		return lift.Errorf(lift.Unavailable, "this server's predictor gives no explanations")
	}
	id := r.PathValue("id")
	c, err := s.Clips.GetClip(r.Context(), id)
	if err != nil {
		return err
	}
	f := c.Features()
	if err := f.CheckStored(id); err != nil {
		return err
	}
	p, cs, bias, err := ex.Contributions(f)
	if err != nil {
		return err
	}
	p.ClipID = &id
	p.CreatedAt = lift.StoredTime(s.Now()) // not recorded: prediction_id stays 0
	margin := bias
	for _, c := range cs {
		margin += float64(c.Contribution)
	}
	if cs == nil {
		cs = []lift.Contribution{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		// The bias is a float32 of the model's, as the contributions are.
		"clip_id": id, "prediction": p, "bias": float32(bias), "margin": margin, "contributions": cs,
	})
}

// importance is one feature's importance.
type importance struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
}

func (s *Server) modelImportance(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	kind := r.URL.Query().Get("type")
	if kind == "" {
		kind = "gain"
	}
	mv, err := s.Models.GetModel(r.Context(), v)
	if err != nil {
		return err
	}
	b, err := gbdt.Load(bytes.NewReader(mv.Model))
	if err != nil {
		return lift.Errorf(lift.Internal, "model version %d: %w", v, err)
	}
	imp, err := b.Importance(kind)
	if err != nil {
		return lift.Errorf(lift.Invalid, "%v", err)
	}
	out := []importance{}
	for f, x := range imp {
		out = append(out, importance{f, x})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Feature < out[j].Feature
	})
	return writeJSON(w, http.StatusOK, map[string]any{"version": v, "type": kind, "importance": out})
}

func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request) error {
	l, err := s.experimentLogStore()
	if err != nil {
		return err
	}
	es, err := l.ListExperiments(r.Context())
	if err != nil {
		return err
	}
	if es == nil {
		es = []*lift.Experiment{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"experiments": es})
}

// timelineBucket is one stretch of consecutive decisions.
type timelineBucket struct {
	// End is the time of the bucket's last decision.
	End       time.Time `json:"end"`
	Decisions int       `json:"decisions"`
	// Share is each variant's fraction of the bucket's decisions.
	Share map[string]float64 `json:"share"`
	// CumulativeReward sums each variant's rewards over every decision
	// up to the bucket's end; CumulativeTrials counts those rewarded.
	CumulativeReward map[string]float64 `json:"cumulative_reward"`
	CumulativeTrials map[string]int64   `json:"cumulative_trials"`
}

// maxTimelineBuckets bounds the points of a timeline.
const maxTimelineBuckets = 60

// timelineWindow bounds the decisions read: the latest ones.
const timelineWindow = 200000

func (s *Server) experimentTimeline(w http.ResponseWriter, r *http.Request) error {
	l, err := s.experimentLogStore()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	e, err := s.Experiments.Get(r.Context(), id)
	if err != nil {
		return err
	}
	buckets := maxTimelineBuckets
	if q := r.URL.Query().Get("buckets"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 1000 {
			return lift.Errorf(lift.Invalid, "buckets must be an integer in [1, 1000], got %q", q)
		}
		buckets = n
	}
	// The latest timelineWindow decisions, without their contexts.
	rows, err := l.RecentPlays(r.Context(), id, timelineWindow)
	if err != nil {
		return err
	}
	var variants []string
	for _, v := range e.Variants {
		variants = append(variants, v.ID)
	}
	reward, trials := map[string]float64{}, map[string]int64{}
	for _, v := range variants {
		reward[v], trials[v] = 0, 0
	}
	out := []timelineBucket{}
	buckets = min(buckets, len(rows))
	start := 0
	for b := range buckets {
		end := (b + 1) * len(rows) / buckets
		if end == start {
			continue
		}
		n := map[string]int{}
		for _, rw := range rows[start:end] {
			n[rw.Variant]++
			if _, ok := reward[rw.Variant]; !ok {
				// A variant no longer in the definition.
				variants = append(variants, rw.Variant)
				reward[rw.Variant], trials[rw.Variant] = 0, 0
			}
			if rw.Reward != nil {
				reward[rw.Variant] += *rw.Reward
				trials[rw.Variant]++
			}
		}
		tb := timelineBucket{End: rows[end-1].At, Decisions: end - start, Share: map[string]float64{},
			CumulativeReward: map[string]float64{}, CumulativeTrials: map[string]int64{}}
		for _, v := range variants {
			tb.Share[v] = float64(n[v]) / float64(end-start)
			tb.CumulativeReward[v] = reward[v]
			tb.CumulativeTrials[v] = trials[v]
		}
		out = append(out, tb)
		start = end
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"experiment_id": id, "decisions": len(rows), "variants": variants, "buckets": out,
	})
}
