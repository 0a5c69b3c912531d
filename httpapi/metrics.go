package httpapi

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"lift"
	"lift/experiment"
)

// Metrics is what the server exposes at GET /metrics. It owns a private
// registry, so two servers in one process (tests, replicas in one binary)
// never collide in prometheus.DefaultRegisterer. The zero value is not
// usable; build one with NewMetrics. A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests         *prometheus.HistogramVec
	predictions      *prometheus.CounterVec
	decisions        *prometheus.CounterVec
	rewards          *prometheus.CounterVec
	rewardSum        *prometheus.CounterVec
	negRewardSum     *prometheus.CounterVec
	trainingRuns     *prometheus.CounterVec
	trainingDuration *prometheus.HistogramVec

	exposition http.Handler

	// version reports the served model version for the gauge; it is set
	// by Server.Handler because the predictor is known only then.
	version atomic.Pointer[func() int64]
}

// latencyBuckets start at 250µs: most answers take well under the 5 ms
// where the client library's default buckets begin.
var latencyBuckets = prometheus.ExponentialBuckets(0.00025, 2, 16) // 250µs .. ~8s

// NewMetrics builds the collectors and registers them, with the Go runtime
// and process collectors, on a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lift_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "status"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_predictions_total",
			Help: "CTR predictions answered, by predicted band and model version (\"heuristic\" without a model).",
		}, []string{"band", "model_version"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_experiment_decisions_total",
			Help: "Variant decisions answered, by experiment and chosen variant.",
		}, []string{"experiment", "variant"}),
		rewards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_experiment_rewards_total",
			Help: "Rewards stored, by experiment (the same reward sent again is answered 200 and counted once, as the experiment counts it).",
		}, []string{"experiment"}),
		rewardSum: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_experiment_reward_sum",
			Help: "Sum of the positive reward values stored, by experiment; (this - lift_experiment_negative_reward_sum) / lift_experiment_rewards_total is the mean reward.",
		}, []string{"experiment"}),
		negRewardSum: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_experiment_negative_reward_sum",
			Help: "Sum of the magnitudes of the negative reward values stored, by experiment (a reward_range below 0 allows them); see lift_experiment_reward_sum.",
		}, []string{"experiment"}),
		trainingRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lift_training_runs_total",
			Help: "Training runs of this server (over HTTP and on its schedule), by result (success, not_enough_data, locked: another run held the lock, error) and whether the new model was promoted.",
		}, []string{"result", "promoted"}),
		trainingDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lift_training_duration_seconds",
			Help:    "Wall time of this server's training runs (over HTTP and on its schedule), by result.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16), // 10ms .. ~5min
		}, []string{"result"}),
	}
	m.reg.MustRegister(
		m.requests, m.predictions, m.decisions, m.rewards, m.rewardSum, m.negRewardSum,
		m.trainingRuns, m.trainingDuration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lift_active_model_version",
			Help: "Model registry version being served; 0 while the heuristic answers.",
		}, m.activeVersion),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every training series exists from the start, at zero, so that a
	// rate or an alert on them works before the first run.
	for _, result := range []string{trainSuccess, trainNotEnoughData, trainLocked, trainError} {
		m.trainingDuration.WithLabelValues(result)
		for _, promoted := range []string{"false", "true"} {
			if promoted == "false" || result == trainSuccess {
				m.trainingRuns.WithLabelValues(result, promoted)
			}
		}
	}
	m.exposition = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// Registry is the registry the metrics live in, for callers that add
// collectors of their own (a store's pool statistics, say).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) activeVersion() float64 {
	if f := m.version.Load(); f != nil {
		return float64((*f)())
	}
	return 0
}

// follow makes the active-version gauge read p's version when p can say it
// (trainer.Serving can); other predictors leave the gauge at 0.
func (m *Metrics) follow(p lift.Predictor) {
	if v, ok := p.(interface{ Version() int64 }); ok {
		f := v.Version
		m.version.Store(&f)
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	s.Metrics.exposition.ServeHTTP(w, r)
	return nil
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	switch route {
	case "", "/":
		// Unrouted requests share one label value, so scanners probing
		// random paths cannot grow the series count.
		route = "unmatched"
	case "GET /{$}": // the dashboard's page, labelled as it always was
		route = "GET /"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *Metrics) observePrediction(p *lift.Prediction) {
	if m == nil {
		return
	}
	version := "heuristic"
	if p.ModelVersion != nil {
		version = strconv.FormatInt(*p.ModelVersion, 10)
	}
	m.predictions.WithLabelValues(string(p.Band), version).Inc()
}

func (m *Metrics) observeDecision(expID string, d *experiment.DecideResponse) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(expID, d.Variant).Inc()
}

func (m *Metrics) observeReward(expID string, value float64) {
	if m == nil {
		return
	}
	m.rewards.WithLabelValues(expID).Inc()
	// A counter cannot go down: negative rewards are summed apart. Both
	// series are touched, so that both exist for the mean's arithmetic.
	m.rewardSum.WithLabelValues(expID).Add(max(value, 0))
	m.negRewardSum.WithLabelValues(expID).Add(max(-value, 0))
}

// Training results, the values of the "result" label.
const (
	trainSuccess       = "success"
	trainNotEnoughData = "not_enough_data"
	trainLocked        = "locked"
	trainError         = "error"
)

// ObserveTraining counts a training run of this server that took d: one
// started over HTTP (the server counts those itself) or by its schedule.
func (m *Metrics) ObserveTraining(sum *lift.TrainSummary, err error, d time.Duration) {
	if m == nil {
		return
	}
	result := trainError
	switch {
	case lift.KindOf(err) == lift.Conflict:
		result = trainLocked
	case err != nil:
	case sum.Success:
		result = trainSuccess
	default:
		result = trainNotEnoughData
	}
	promoted := err == nil && sum.Promoted
	m.trainingRuns.WithLabelValues(result, strconv.FormatBool(promoted)).Inc()
	m.trainingDuration.WithLabelValues(result).Observe(d.Seconds())
}

// statusRecorder remembers the status a handler wrote, for the latency
// histogram's status label.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines on the
// underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming answers (the DSJSON log) streaming through the
// recorder for callers that type-assert http.Flusher.
func (w *statusRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	return w.status
}
