package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDashboardShellIsPublic: the shell and its assets need no token and
// hold no data; an unknown asset is a 404, any other unknown path a 401
// without the token.
func TestDashboardShellIsPublic(t *testing.T) {
	h := newTestServer(t, 1).Handler()
	for _, c := range []struct {
		path, ctype string
		want        int
	}{
		{"/", "text/html", 200},
		{"/ui/app.js", "text/javascript", 200},
		{"/ui/charts.js", "text/javascript", 200},
		{"/ui/style.css", "text/css", 200},
		{"/ui/nope.js", "application/json", 404},
		{"/ui/index.html", "application/json", 404},
		{"/no/such/page", "application/json", 401},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		if w.Code != c.want || !strings.HasPrefix(w.Header().Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s without a token = %d %q, want %d %s", c.path, w.Code, w.Header().Get("Content-Type"), c.want, c.ctype)
		}
	}
	// The data behind it is not public.
	for _, p := range []string{"/experiments", "/predictions/summary", "/clips/demo-0001/explain", "/clips/demo-0001/outcomes"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d, want 401", p, w.Code)
		}
	}
}

// TestPagesForbidEmbedding: the dashboard and the docs page may not be
// framed, and neither lets injected markup change its base URL or load
// plugins.
func TestPagesForbidEmbedding(t *testing.T) {
	h := newTestServer(t, 1).Handler()
	for _, path := range []string{"/", "/docs"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer secret")
		h.ServeHTTP(w, r)
		csp := w.Header().Get("Content-Security-Policy")
		for _, d := range []string{"frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"} {
			if w.Code != 200 || !strings.Contains(csp, d) {
				t.Errorf("GET %s = %d, Content-Security-Policy %q, want %s in it", path, w.Code, csp, d)
			}
		}
	}
}

func mustGetJSON(t *testing.T, h http.Handler, target string, v any) {
	t.Helper()
	code, body := call(t, h, "GET", target, "")
	if code != 200 {
		t.Fatalf("GET %s = %d %s", target, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
}

func TestDashboardReadEndpoints(t *testing.T) {
	s := newTestServer(t, 80)
	h := s.Handler()
	mustCall := func(method, target, body string, want int) {
		t.Helper()
		if code, b := call(t, h, method, target, body); code != want {
			t.Fatalf("%s %s = %d %s, want %d", method, target, code, b, want)
		}
	}
	mustCall("POST", "/predict/ctr?clip_id=demo-0001", "", 200) // heuristic
	mustCall("POST", "/train/ctr-model", "", 200)
	for range 2 {
		mustCall("POST", "/predict/ctr?clip_id=demo-0001", "", 200) // model v1
	}

	var sum struct {
		Total  int64            `json:"total"`
		ByBand map[string]int64 `json:"by_band"`
		Counts []struct {
			ModelVersion *int64 `json:"model_version"`
			Count        int64  `json:"count"`
		} `json:"counts"`
	}
	mustGetJSON(t, h, "/predictions/summary", &sum)
	var heuristic, model int64
	for _, c := range sum.Counts {
		if c.ModelVersion == nil {
			heuristic += c.Count
		} else if *c.ModelVersion == 1 {
			model += c.Count
		}
	}
	if sum.Total != 3 || heuristic != 1 || model != 2 || len(sum.ByBand) != 4 {
		t.Errorf("summary = %+v, want 3 predictions: 1 heuristic, 2 by v1, four bands", sum)
	}

	// Explaining records nothing, and the contributions add up to the
	// margin behind the predicted CTR.
	var ex struct {
		Prediction struct {
			ID           int64     `json:"prediction_id"`
			PredictedCTR float64   `json:"predicted_ctr"`
			ModelVersion *int64    `json:"model_version"`
			CreatedAt    time.Time `json:"created_at"`
		} `json:"prediction"`
		Bias          float64 `json:"bias"`
		Margin        float64 `json:"margin"`
		Contributions []struct {
			Contribution float64 `json:"contribution"`
		} `json:"contributions"`
	}
	mustGetJSON(t, h, "/clips/demo-0001/explain", &ex)
	if len(ex.Contributions) != 6 || ex.Prediction.ModelVersion == nil {
		t.Fatalf("explain = %+v, want six contributions from a model", ex)
	}
	if ex.Prediction.ID != 0 || time.Since(ex.Prediction.CreatedAt) > time.Hour {
		t.Errorf("explain's prediction: id %d, created_at %v; want 0 (not recorded) and now", ex.Prediction.ID, ex.Prediction.CreatedAt)
	}
	if p := 1 / (1 + math.Exp(-ex.Margin)); math.Abs(p-ex.Prediction.PredictedCTR) > 1e-4 {
		t.Errorf("sigmoid(margin %g) = %g, predicted %g", ex.Margin, p, ex.Prediction.PredictedCTR)
	}
	mustGetJSON(t, h, "/predictions/summary", &sum)
	if sum.Total != 3 {
		t.Errorf("explaining recorded a prediction: total %d", sum.Total)
	}

	var preds struct {
		Predictions []struct {
			ModelVersion *int64 `json:"model_version"`
		} `json:"predictions"`
	}
	mustGetJSON(t, h, "/clips/demo-0001/predictions?limit=2", &preds)
	if len(preds.Predictions) != 2 || preds.Predictions[0].ModelVersion == nil {
		t.Errorf("predictions = %+v, want the 2 latest, by the model", preds)
	}
	var outs struct {
		Outcomes []struct {
			Impressions int64 `json:"impressions"`
		} `json:"outcomes"`
	}
	mustGetJSON(t, h, "/clips/demo-0001/outcomes", &outs)
	if len(outs.Outcomes) == 0 || outs.Outcomes[0].Impressions < 1 {
		t.Errorf("outcomes = %+v", outs)
	}
	mustCall("GET", "/clips/nope/outcomes", "", 404)
	mustCall("GET", "/clips/nope/explain", "", 404)
	mustCall("GET", "/clips/demo-0001/outcomes?limit=0", "", 400)

	var imp struct {
		Importance []struct {
			Feature string  `json:"feature"`
			Value   float64 `json:"value"`
		} `json:"importance"`
	}
	mustGetJSON(t, h, "/models/1/importance", &imp)
	if len(imp.Importance) == 0 {
		t.Fatal("no importance")
	}
	for i := 1; i < len(imp.Importance); i++ {
		if imp.Importance[i].Value > imp.Importance[i-1].Value {
			t.Errorf("importance not largest first: %+v", imp.Importance)
		}
	}
	mustCall("GET", "/models/1/importance?type=bogus", "", 400)
	mustCall("GET", "/models/9/importance", "", 404)

	// An experiment's timeline: shares sum to 1 per bucket, cumulative
	// reward ends at the total reward.
	mustCall("POST", "/experiments", `{"id":"thumbs","variants":[{"id":"a"},{"id":"b"}]}`, 201)
	rewardSum := 0.0
	for i := range 40 {
		code, body := call(t, h, "POST", "/experiments/thumbs/decide", fmt.Sprintf(`{"event_id":"e%d"}`, i))
		if code != 200 {
			t.Fatalf("decide = %d %s", code, body)
		}
		r := float64(i % 2)
		rewardSum += r
		mustCall("POST", "/experiments/thumbs/rewards", fmt.Sprintf(`{"event_id":"e%d","reward":%g}`, i, r), 200)
	}
	var list struct {
		Experiments []struct {
			ID string `json:"id"`
		} `json:"experiments"`
	}
	mustGetJSON(t, h, "/experiments", &list)
	if len(list.Experiments) != 1 || list.Experiments[0].ID != "thumbs" {
		t.Errorf("experiments = %+v", list)
	}
	var tl struct {
		Decisions int `json:"decisions"`
		Buckets   []struct {
			Decisions        int                `json:"decisions"`
			Share            map[string]float64 `json:"share"`
			CumulativeReward map[string]float64 `json:"cumulative_reward"`
		} `json:"buckets"`
	}
	mustGetJSON(t, h, "/experiments/thumbs/timeline?buckets=8", &tl)
	if tl.Decisions != 40 || len(tl.Buckets) != 8 {
		t.Fatalf("timeline: %d decisions in %d buckets, want 40 in 8", tl.Decisions, len(tl.Buckets))
	}
	n := 0
	for _, b := range tl.Buckets {
		n += b.Decisions
		if s := b.Share["a"] + b.Share["b"]; math.Abs(s-1) > 1e-9 {
			t.Errorf("bucket shares sum to %g", s)
		}
	}
	last := tl.Buckets[len(tl.Buckets)-1].CumulativeReward
	if n != 40 || math.Abs(last["a"]+last["b"]-rewardSum) > 1e-9 {
		t.Errorf("buckets hold %d decisions, final cumulative reward %v, want 40 and %g", n, last, rewardSum)
	}
	mustCall("GET", "/experiments/nope/timeline", "", 404)
}
