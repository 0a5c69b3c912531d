package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"lift"
	"lift/demo"
	"lift/experiment"
	"lift/internal/cputime"
	"lift/sqlite"
	"lift/trainer"
)

// newTestServer is a Server with every optional dependency set, on a
// temporary SQLite database holding nClips demo clips with outcomes.
func newTestServer(t testing.TB, nClips int) *Server {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lift.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d := demo.Generate(rand.New(rand.NewPCG(1, 2)), nClips, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := db.PutClips(ctx, d.Clips); err != nil {
		t.Fatal(err)
	}
	if err := db.AddOutcomes(ctx, d.Outcomes); err != nil {
		t.Fatal(err)
	}
	serving := &trainer.Serving{Bands: lift.DefaultBands}
	job := &trainer.Job{Store: db, Serving: serving, Progress: io.Discard}
	return &Server{
		Clips: db, Predictions: db, Predictor: serving, Trainer: job,
		Models: db, Activator: job, Ready: db.Ping,
		Experiments: &experiment.Service{Store: db, Clips: db, Predictor: serving, Seed: 7},
		Token:       "secret",
		Metrics:     NewMetrics(),
	}
}

// call sends one request with the bearer token and returns the status
// and body.
func call(t testing.TB, h http.Handler, method, target, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t, 60)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	h := ts.Config.Handler

	// One request of each kind the metrics count; the statuses are checked
	// so a broken setup fails here rather than as a missing series.
	steps := []struct {
		method, target, body string
		want                 int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/clips/nope", "", 404},
		{"POST", "/predict/ctr?clip_id=demo-0001", "", 200}, // heuristic
		{"POST", "/train/ctr-model", "", 200},
		{"POST", "/predict/ctr?clip_id=demo-0002", "", 200}, // model 1
		{"POST", "/predict/ctr?clip_id=demo-0003", "", 200},
		{"POST", "/experiments", `{"id":"thumbs","variants":[{"id":"a"},{"id":"b"}]}`, 201},
		{"GET", "/no/such/route", "", 404},
		{"GET", "/", "", 200}, // the dashboard's page
	}
	for _, st := range steps {
		if code, body := call(t, h, st.method, st.target, st.body); code != st.want {
			t.Fatalf("%s %s = %d %s, want %d", st.method, st.target, code, body, st.want)
		}
	}
	for i := range 3 {
		code, body := call(t, h, "POST", "/experiments/thumbs/decide", "")
		if code != 200 {
			t.Fatalf("decide = %d %s", code, body)
		}
		var d experiment.DecideResponse
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		reward := `{"event_id":"` + d.EventID + `","reward":` + []string{"1", "0", "1"}[i] + `}`
		// A client's retries (the same reward twice, the same event
		// decided again) are answered 200 and counted once, by the
		// metrics as by the stats.
		for range 2 {
			if code, body := call(t, h, "POST", "/experiments/thumbs/rewards", reward); code != 200 {
				t.Fatalf("reward = %d %s", code, body)
			}
		}
		if i == 0 {
			if code, body := call(t, h, "POST", "/experiments/thumbs/decide", `{"event_id":"`+d.EventID+`"}`); code != 200 {
				t.Fatalf("decide again = %d %s", code, body)
			}
		}
	}

	// No token: /metrics is public, like the probes.
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	raw, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, raw)
	}

	// sumOf adds the counter values (or histogram sample counts) of the
	// series in fam whose labels include want.
	sumOf := func(fam string, want map[string]string) float64 {
		t.Helper()
		f, ok := fams[fam]
		if !ok {
			t.Fatalf("no metric family %s in:\n%s", fam, raw)
		}
		var total float64
	series:
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				total += m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				total += float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_GAUGE:
				total += m.GetGauge().GetValue()
			}
		}
		return total
	}
	checks := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"lift_http_request_duration_seconds", map[string]string{"route": "GET /healthz", "status": "200"}, 2},
		{"lift_http_request_duration_seconds", map[string]string{"route": "GET /clips/{id}", "status": "404"}, 1},
		{"lift_http_request_duration_seconds", map[string]string{"route": "POST /predict/ctr", "status": "200"}, 3},
		{"lift_http_request_duration_seconds", map[string]string{"route": "POST /experiments/{id}/decide", "status": "200"}, 4},
		{"lift_http_request_duration_seconds", map[string]string{"route": "unmatched", "status": "404"}, 1},
		{"lift_http_request_duration_seconds", map[string]string{"route": "GET /", "status": "200"}, 1},
		{"lift_predictions_total", map[string]string{"model_version": "heuristic"}, 1},
		{"lift_predictions_total", map[string]string{"model_version": "1"}, 2},
		{"lift_predictions_total", nil, 3},
		{"lift_experiment_decisions_total", map[string]string{"experiment": "thumbs"}, 3},
		{"lift_experiment_rewards_total", map[string]string{"experiment": "thumbs"}, 3},
		{"lift_experiment_reward_sum", map[string]string{"experiment": "thumbs"}, 2},
		{"lift_training_runs_total", map[string]string{"result": "success", "promoted": "true"}, 1},
		{"lift_training_duration_seconds", map[string]string{"result": "success"}, 1},
		{"lift_active_model_version", nil, 1},
	}
	for _, c := range checks {
		if got := sumOf(c.fam, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.fam, c.labels, got, c.want)
		}
	}
	// Every prediction series names a real band.
	for _, m := range fams["lift_predictions_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "band" && !strings.Contains("viral high medium low", l.GetValue()) {
				t.Errorf("prediction band label %q", l.GetValue())
			}
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("the Go runtime collector is not registered")
	}
}

func TestMetricsTrainingOutcomes(t *testing.T) {
	s := newTestServer(t, 5) // below lift.MinTrainingClips
	h := s.Handler()
	if code, body := call(t, h, "POST", "/train/ctr-model", ""); code != 200 {
		t.Fatalf("train = %d %s", code, body)
	}
	// Refused for its parameters: no run, not counted (a client's typo
	// would otherwise read as a failed training run).
	for _, body := range []string{`{"rounds":"many"}`, `{"rounds":0}`} {
		if code, answer := call(t, h, "POST", "/train/ctr-model", body); code != 400 {
			t.Fatalf("train with %s = %d %s, want 400", body, code, answer)
		}
	}
	// A scheduled run that found another replica training, and one that
	// failed.
	s.Metrics.ObserveTraining(nil, lift.Errorf(lift.Conflict, "another training run holds the lock"), time.Millisecond)
	s.Metrics.ObserveTraining(nil, lift.Errorf(lift.Internal, "disk full"), time.Millisecond)
	mfs, err := s.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]float64{}
	for _, f := range mfs {
		if f.GetName() != "lift_training_runs_total" {
			continue
		}
		for _, m := range f.Metric {
			var key []string
			for _, l := range m.Label {
				key = append(key, l.GetName()+"="+l.GetValue())
			}
			runs[strings.Join(key, ",")] += m.GetCounter().GetValue()
		}
	}
	// Every series exists from the start, the ones never observed at 0.
	want := map[string]float64{
		"promoted=false,result=not_enough_data": 1,
		"promoted=false,result=error":           1,
		"promoted=false,result=locked":          1,
		"promoted=false,result=success":         0,
		"promoted=true,result=success":          0,
	}
	for k, v := range want {
		if runs[k] != v {
			t.Errorf("lift_training_runs_total{%s} = %v, want %v (all: %v)", k, runs[k], v, runs)
		}
	}
	if len(runs) != len(want) {
		t.Errorf("training series %v, want exactly %v", runs, want)
	}
}

// A server without Metrics has no /metrics route and still answers.
func TestNoMetrics(t *testing.T) {
	s := newTestServer(t, 1)
	s.Metrics = nil
	h := s.Handler()
	if code, _ := call(t, h, "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := call(t, h, "GET", "/metrics", ""); code != 404 {
		t.Fatalf("GET /metrics without Metrics = %d, want 404", code)
	}
}

func TestStatusRecorderPanic(t *testing.T) {
	s := &Server{Metrics: NewMetrics()}
	s.Handler()
	h := s.wrap(true, 0, func(http.ResponseWriter, *http.Request) error { panic("boom") })
	req := httptest.NewRequest("GET", "/x", nil)
	req.Pattern = "GET /x"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
	var body bytes.Buffer
	if err := expfmt.NewEncoder(&body, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(gather(t, s.Metrics, "lift_http_request_duration_seconds")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.String(), `lift_http_request_duration_seconds_count{route="GET /x",status="500"} 1`) {
		t.Errorf("panic not counted as 500:\n%s", body.String())
	}
}

func gather(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mfs {
		if f.GetName() == name {
			return f
		}
	}
	t.Fatalf("no family %s", name)
	return nil
}

// benchServer is newTestServer with 300 demo clips, a trained model and a
// three-variant experiment, as bench/http.sh runs it.
func benchServer(b *testing.B) http.Handler {
	s := newTestServer(b, 300)
	s.Token = ""
	h := s.Handler()
	if code, body := call(b, h, "POST", "/train/ctr-model", ""); code != 200 {
		b.Fatalf("train = %d %s", code, body)
	}
	if code, body := call(b, h, "POST", "/experiments", `{"id":"thumbs","variants":[{"id":"a"},{"id":"b"},{"id":"c"}]}`); code != 201 {
		b.Fatalf("create experiment = %d %s", code, body)
	}
	return h
}

// The HTTP benchmarks run the handler in-process (no sockets, no load
// generator) on a real SQLite file, so a CPU profile of them shows where
// a request's time goes inside the server:
//
//	go test ./httpapi -run '^$' -bench HTTP -cpuprofile cpu.out
//
// benchClients concurrent clients per core, as a loaded server sees
// (bench/http.sh runs 32, 64 and 96 workers): writes then group-commit in
// batches.
const benchClients = 16

// runParallel runs body in benchClients clients per core and reports
// the CPU time per op (the server's and the in-process clients').
func runParallel(b *testing.B, body func(*testing.PB)) {
	cputime.RunParallel(b, benchClients, body)
}

func BenchmarkHTTPHealthz(b *testing.B) {
	h := benchServer(b)
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			if code, _ := call(b, h, "GET", "/healthz", ""); code != 200 {
				b.Fatalf("healthz = %d", code)
			}
		}
	})
}

func BenchmarkHTTPPredict(b *testing.B) {
	h := benchServer(b)
	var n atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("demo-%04d", n.Add(1)%300+1)
			if code, body := call(b, h, "POST", "/predict/ctr?clip_id="+id, ""); code != 200 {
				b.Fatalf("predict = %d %s", code, body)
			}
		}
	})
}

// BenchmarkHTTPDecideReward counts one decide plus its reward per op.
func BenchmarkHTTPDecideReward(b *testing.B) {
	h := benchServer(b)
	var n atomic.Int64
	runParallel(b, func(pb *testing.PB) {
		for pb.Next() {
			code, body := call(b, h, "POST", "/experiments/thumbs/decide", "")
			if code != 200 {
				b.Fatalf("decide = %d %s", code, body)
			}
			var d experiment.DecideResponse
			if err := json.Unmarshal(body, &d); err != nil {
				b.Fatal(err)
			}
			reward := fmt.Sprintf(`{"event_id":%q,"reward":%d}`, d.EventID, n.Add(1)%2)
			if code, body := call(b, h, "POST", "/experiments/thumbs/rewards", reward); code != 200 {
				b.Fatalf("reward = %d %s", code, body)
			}
		}
	})
}

// TestMetricsNegativeRewards: with rewards below 0 (a reward_range that
// allows them) the sums still give the mean: positive and negative parts
// are counted apart, as counters cannot go down. Negative rewards were
// left out of the sum while counted in the total: -1, -1, -1, +1 read as
// a mean of 0.25 instead of -0.5.
func TestMetricsNegativeRewards(t *testing.T) {
	m := NewMetrics()
	for _, r := range []float64{-1, -1, -1, 1, 0} {
		m.observeReward("e", r)
	}
	m.observeReward("positive", 1)
	m.observeReward("negative", -1)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	series := map[string]int{}
	for _, f := range mfs {
		if !strings.HasPrefix(f.GetName(), "lift_experiment_") {
			continue
		}
		for _, s := range f.Metric {
			if s.GetLabel()[0].GetValue() == "e" {
				got[f.GetName()] += s.GetCounter().GetValue()
			}
			series[f.GetName()]++
		}
	}
	// Every experiment has both sums, or the mean's query finds nothing.
	for _, name := range []string{"lift_experiment_reward_sum", "lift_experiment_negative_reward_sum", "lift_experiment_rewards_total"} {
		if series[name] != 3 {
			t.Errorf("%s: %d series, want one per experiment (3)", name, series[name])
		}
	}
	pos, neg, n := got["lift_experiment_reward_sum"], got["lift_experiment_negative_reward_sum"], got["lift_experiment_rewards_total"]
	if n != 5 || (pos-neg)/n != -0.4 {
		t.Errorf("reward_sum %v, negative_reward_sum %v, rewards_total %v: mean %v, want 5 rewards of mean -0.4", pos, neg, n, (pos-neg)/n)
	}
}
