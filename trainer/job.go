package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"lift"
	"lift/gbdt"
	"lift/internal/tick"
)

// Store is what a training job reads and writes.
type Store interface {
	lift.ClipStore
	lift.ModelStore
	lift.Locker
}

// LockName is the training lease's name; LockTTL bounds how long a crashed
// trainer can block the next one. A live trainer renews its lease.
const (
	LockName = "ctr-training"
	LockTTL  = 2 * time.Minute
)

// Job trains, evaluates, registers and maybe promotes a CTR model.
type Job struct {
	Store Store
	// Serving, if set, is swapped to a promoted model.
	Serving *Serving
	// ExportPath, if set, receives the served model's XGBoost JSON
	// (atomically) after a promotion, an activation or a refresh that
	// changes it: the seed's models/ctr_predictor.json.
	ExportPath string
	// exportMu orders the exports of a promotion and of the registry
	// poll, which may run at once (see export).
	exportMu sync.Mutex
	// Tolerance lets a challenger's holdout log loss exceed the
	// champion's by up to this fraction and still be promoted. With the
	// default 0 a challenger must be strictly better: a retrain that
	// reproduces the active model (no new outcomes) is not promoted.
	Tolerance float64
	Logger    *slog.Logger
	// Progress gets training progress lines (stderr in the CLI).
	Progress io.Writer
	// Holder names this process in the lease.
	Holder string
}

// Options are a training run's parameters.
type Options struct {
	// Preset "logistic" (default) fits the binomial likelihood: a
	// logistic objective on CTR weighted by impressions. Preset "seed" is
	// the seed's reg:squarederror, 100 trees, depth 4, eta 0.1, unweighted.
	Preset string
	Params gbdt.Params
	// Weighted weights rows by impressions.
	Weighted bool
	// InnerValidPercent of the training clips (by id hash) drive early
	// stopping, so the holdout stays untouched until evaluation.
	InnerValidPercent int
}

// DefaultOptions returns the logistic preset.
func DefaultOptions() Options {
	p := gbdt.DefaultParams()
	p.Objective = gbdt.BinaryLogistic
	p.Rounds = 300
	p.Eta = 0.1
	p.MaxDepth = 4
	p.MinChildWeight = 1
	p.EarlyStopping = 30
	p.EvalMetrics = []string{"logloss"}
	p.Seed = 1
	return Options{Preset: "logistic", Params: p, Weighted: true, InnerValidPercent: 15}
}

// SeedOptions returns the seed's configuration.
func SeedOptions() Options {
	p := gbdt.DefaultParams()
	p.Objective = gbdt.SquaredError
	p.Rounds = 100
	p.Eta = 0.1
	p.MaxDepth = 4
	p.Seed = 1
	return Options{Preset: "seed", Params: p, Weighted: false}
}

// limits are the ranges of the whole-number parameters a caller may set.
type limits struct{ rounds, maxDepth, maxBin int }

// operatorLimits are the model's own (gbdt.Params.Validate); requestLimits
// bound a run asked for over HTTP, which happens inside the server and
// holds the trainer lock: one request must not occupy it for hours.
var (
	operatorLimits = limits{rounds: 1_000_000, maxDepth: 30, maxBin: 65535}
	requestLimits  = limits{rounds: MaxRounds, maxDepth: MaxDepth, maxBin: MaxBin}
)

// ParseOptions reads the flags of `lift train` (and any other caller an
// operator configures): preset, objective, rounds, max_depth, max_bin,
// eta, min_child_weight, lambda, alpha, gamma, subsample,
// colsample_bytree, early_stopping, weighted, seed. Unknown keys are
// Invalid.
func ParseOptions(in map[string]any) (Options, error) { return parseOptions(in, operatorLimits) }

// ParseRequestOptions is ParseOptions for the body of POST
// /train/ctr-model, within MaxRounds, MaxDepth and MaxBin.
func ParseRequestOptions(in map[string]any) (Options, error) { return parseOptions(in, requestLimits) }

func parseOptions(in map[string]any, lim limits) (Options, error) {
	o := DefaultOptions()
	if v, ok := in["preset"]; ok {
		switch v {
		case "logistic":
		case "seed":
			o = SeedOptions()
		default:
			return o, lift.Errorf(lift.Invalid, "preset must be \"logistic\" or \"seed\", got %v", v)
		}
	}
	num := func(key string, v any) (float64, error) {
		f, isNum := v.(float64)
		if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, lift.Errorf(lift.Invalid, "%s must be a number", key)
		}
		return f, nil
	}
	whole := func(key string, v any, lo, hi float64) (float64, error) {
		f, err := num(key, v)
		if err == nil && (f != math.Trunc(f) || f < lo || f > hi) {
			// %v of a float64 writes 1000001 as 1.000001e+06.
			err = lift.Errorf(lift.Invalid, "%s must be a whole number in [%.0f, %.0f], got %s", key, lo, hi, strconv.FormatFloat(f, 'f', -1, 64))
		}
		return f, err
	}
	type intParam struct {
		dst    *int
		lo, hi int
	}
	ints := map[string]intParam{
		"rounds":         {&o.Params.Rounds, 1, lim.rounds},
		"max_depth":      {&o.Params.MaxDepth, 1, lim.maxDepth},
		"max_bin":        {&o.Params.MaxBin, 2, lim.maxBin},
		"early_stopping": {&o.Params.EarlyStopping, 0, 1_000_000},
	}
	floats := map[string]*float64{
		"eta": &o.Params.Eta, "min_child_weight": &o.Params.MinChildWeight, "lambda": &o.Params.Lambda,
		"alpha": &o.Params.Alpha, "gamma": &o.Params.Gamma, "subsample": &o.Params.Subsample,
		"colsample_bytree": &o.Params.ColsampleBytree,
	}
	for key, v := range in {
		if p, ok := ints[key]; ok {
			f, err := whole(key, v, float64(p.lo), float64(p.hi))
			if err != nil {
				return o, err
			}
			*p.dst = int(f)
			continue
		}
		if dst, ok := floats[key]; ok {
			f, err := num(key, v)
			if err != nil {
				return o, err
			}
			*dst = f
			continue
		}
		switch key {
		case "preset":
		case "seed":
			f, err := whole(key, v, 0, 1<<53)
			if err != nil {
				return o, err
			}
			o.Params.Seed = uint64(f)
		case "objective":
			s, _ := v.(string)
			switch gbdt.Objective(s) {
			case gbdt.SquaredError, gbdt.Logistic, gbdt.BinaryLogistic:
				o.Params.Objective = gbdt.Objective(s)
			default:
				return o, lift.Errorf(lift.Invalid, "objective must be reg:squarederror, reg:logistic or binary:logistic, got %v", v)
			}
		case "weighted":
			b, ok := v.(bool)
			if !ok {
				return o, lift.Errorf(lift.Invalid, "weighted must be true or false")
			}
			o.Weighted = b
		default:
			return o, lift.Errorf(lift.Invalid, "unknown training parameter %q", key)
		}
	}
	if err := o.Params.Validate(); err != nil {
		return o, lift.Errorf(lift.Invalid, "%v", err)
	}
	return o, nil
}

// Bounds on the parameters of a training run asked for over HTTP. The
// nightly `lift train`, which an operator configures, has the model's own.
const (
	MaxRounds = 10000
	MaxDepth  = 16
	MaxBin    = 1024
)

// paramsRecord is what the registry keeps of a run's parameters.
func (o Options) paramsRecord() map[string]any {
	p := o.Params
	return map[string]any{
		"preset": o.Preset, "objective": string(p.Objective), "rounds": p.Rounds, "eta": p.Eta,
		"max_depth": p.MaxDepth, "min_child_weight": p.MinChildWeight, "lambda": p.Lambda,
		"alpha": p.Alpha, "gamma": p.Gamma, "subsample": p.Subsample, "colsample_bytree": p.ColsampleBytree,
		"max_bin": p.MaxBin, "early_stopping": p.EarlyStopping, "weighted": o.Weighted, "seed": p.Seed,
	}
}

// TrainCTR implements lift.Trainer.
func (j *Job) TrainCTR(ctx context.Context, params map[string]any) (*lift.TrainSummary, error) {
	o, err := ParseRequestOptions(params)
	if err != nil {
		return nil, &lift.RunNotStarted{Err: err}
	}
	return j.Run(ctx, o)
}

// Run is one training job. It holds the training lease throughout, so
// only one runs per database; a second gets Conflict.
func (j *Job) Run(ctx context.Context, o Options) (sum *lift.TrainSummary, err error) {
	defer lift.Wrap(&err, "trainer.Run")
	holder := j.Holder
	if holder == "" {
		holder = fmt.Sprintf("pid-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	ok, err := j.Store.TryLock(ctx, LockName, holder, LockTTL)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, lift.Errorf(lift.Conflict, "another training run holds the lock; try again when it finishes")
	}
	// Renew the lease while working; release it however we leave, once
	// the renewer has stopped (a renewal in flight would take it back).
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	defer func() {
		stopRenew()
		<-renewed
		j.release(holder)
	}()
	go func() {
		defer close(renewed)
		tick.Every(renewCtx, LockTTL/3, func(ctx context.Context) {
			j.Store.TryLock(ctx, LockName, holder, LockTTL)
		})
	}()
	return j.run(ctx, o)
}

// releaseRetry is the first wait before a failed release of the lease is
// tried again (doubling up to 10 s); a variable for tests.
var releaseRetry = 500 * time.Millisecond

// release gives the training lease back. The database not answering at
// that moment (the blip that may have failed the run) would leave the
// lease to expire after LockTTL, every run refused meanwhile though none
// trains; so a failed release is retried in the background until it
// succeeds or the lease has expired anyway. Unlock takes the lease from
// this holder only, so a late retry cannot end another's.
func (j *Job) release(holder string) {
	unlock := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return j.Store.Unlock(ctx, LockName, holder)
	}
	err := unlock()
	if err == nil {
		return
	}
	j.logger().Warn("releasing the training lease; retrying", "err", err)
	go func() {
		deadline := time.Now().Add(LockTTL)
		for wait := releaseRetry; time.Now().Before(deadline); wait = min(2*wait, 10*time.Second) {
			time.Sleep(wait)
			if unlock() == nil {
				j.logger().Info("released the training lease")
				return
			}
		}
	}()
}

func (j *Job) logger() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return j.Logger
}

func (j *Job) run(ctx context.Context, o Options) (*lift.TrainSummary, error) {
	start := time.Now()
	// The activation current when the run starts: if another is made
	// while this model trains (a rollback by hand, even back to the same
	// version), that choice wins.
	activeAtStart, err := j.Store.CurrentActivation(ctx)
	if err != nil {
		return nil, err
	}
	clips, err := j.Store.ClipsWithOutcomes(ctx)
	if err != nil {
		return nil, err
	}
	clips = trainable(clips, j.logger())
	if len(clips) < lift.MinTrainingClips {
		return &lift.TrainSummary{Message: lift.NotEnoughDataMessage(len(clips)), Rows: len(clips)}, nil
	}
	trainClips, holdClips := split(clips)
	if len(holdClips) == 0 || len(trainClips) < 2 {
		return &lift.TrainSummary{Rows: len(clips), Message: fmt.Sprintf(
			"Not enough data: the %d%% holdout split of %d clips left %d for training and %d for evaluation",
			HoldoutPercent, len(clips), len(trainClips), len(holdClips))}, nil
	}
	fitClips, validClips := innerSplit(trainClips, o.InnerValidPercent)
	fit := matrix(fitClips, o.Weighted)
	var evals []gbdt.EvalSet
	p := o.Params
	if len(validClips) > 0 && p.EarlyStopping > 0 {
		evals = append(evals, gbdt.EvalSet{Name: "valid", Data: matrix(validClips, o.Weighted)})
	} else {
		p.EarlyStopping = 0
	}
	booster, res, err := gbdt.Train(ctx, p, fit, evals, j.Progress)
	if errors.Is(err, gbdt.ErrDiverged) {
		// The clips are checked CTRs, so the parameters (eta) are at fault.
		return nil, lift.Errorf(lift.Invalid, "%w", err)
	}
	if err != nil {
		return nil, err
	}
	if p.EarlyStopping > 0 && res.BestIteration+1 < len(booster.Trees) {
		booster = booster.Truncate(res.BestIteration + 1)
	}
	var buf bytes.Buffer
	if err := booster.Save(&buf); err != nil {
		return nil, err
	}
	hold := newHoldout(holdClips)
	mean := meanCTR(trainClips)
	pred := predictAll(booster, hold)
	metrics, cal := score(hold, pred, mean)
	mv := &lift.ModelVersion{
		Source: "trained", Objective: string(p.Objective), Params: o.paramsRecord(),
		TrainingRows: len(trainClips), HoldoutRows: len(holdClips), Evaluated: true,
		Metrics: metrics, Calibration: cal, Model: buf.Bytes(),
	}
	mv.Params["rounds_used"] = len(booster.Trees)
	promote, reason, champion, err := j.shouldPromote(ctx, hold, metrics, mean)
	if err != nil {
		return nil, err
	}
	mv.Note = reason
	if ctx.Err() != nil {
		return nil, ctx.Err() // cancelled before registering: nothing changes
	}
	// Registered inactive, then activated only if the activation current
	// when the run started is still current, and its version is the
	// champion it was compared with: a rollback made while this model
	// trained wins.
	if err := j.Store.CreateModel(ctx, mv, false); err != nil {
		return nil, err
	}
	if promote {
		if champion == activeAtStart.Version {
			promote, err = j.Store.ActivateModelIf(ctx, mv.Version, activeAtStart)
		} else {
			promote = false
		}
		if err != nil {
			return nil, err
		}
		if promote {
			mv.Active = true
		} else {
			reason += "; not promoted: the active model changed while this one trained"
			// The registry's note says so too: registered with the
			// comparison alone, it read as if the model should be active.
			if err := j.Store.SetModelNote(ctx, mv.Version, reason); err != nil {
				j.logger().Warn("noting why the model was not promoted", "version", mv.Version, "err", err)
			}
		}
	}
	var warning string
	if promote {
		if warning, err = j.serve(mv); err != nil {
			return nil, err
		}
	}
	v := mv.Version
	j.logger().Info("training finished", "version", v, "promoted", promote, "reason", reason,
		"holdout_logloss", metrics.LogLoss, "seconds", time.Since(start).Seconds())
	return &lift.TrainSummary{
		Success: true, Message: "Model trained", ModelVersion: &v, Promoted: promote, Reason: reason,
		Rows: len(clips), Metrics: summaryMetrics(metrics, time.Since(start)), Warning: warning,
	}, nil
}

// serve swaps the served model and exports the file after a promotion.
// The registry has already committed the activation, so a failed export
// (a read-only directory, say) does not fail the run: it is logged and
// returned as a warning, and the file is written at the next promotion.
func (j *Job) serve(mv *lift.ModelVersion) (warning string, err error) {
	if j.Serving != nil {
		if err := j.Serving.Load(mv); err != nil {
			return "", err
		}
	}
	if err := j.export(mv); err != nil {
		j.logger().Warn("exporting the active model", "path", j.ExportPath, "version", mv.Version, "err", err)
		return fmt.Sprintf("model v%d is active but was not exported to %s: %v", mv.Version, j.ExportPath, err), nil
	}
	return "", nil
}

// Refresh serves the registry's active model if it is not the one served
// (at start-up, and on a replica's poll after a promotion or an activation
// elsewhere), and exports it as a promotion here does: the export file
// follows the served model whichever process changed it. A failed export
// is logged, not returned: the model is served all the same.
func (j *Job) Refresh(ctx context.Context) error {
	mv, err := j.Serving.Refresh(ctx, j.Store)
	if err != nil || mv == nil {
		return err
	}
	if err := j.export(mv); err != nil {
		j.logger().Warn("exporting the active model", "path", j.ExportPath, "version", mv.Version, "err", err)
	}
	return nil
}

// export writes the active model's JSON atomically to ExportPath. With
// a Serving, only the served version is written: a promotion and the
// registry poll may each load a model and then export it, and the export
// of the older one must not land last.
func (j *Job) export(mv *lift.ModelVersion) error {
	if j.ExportPath == "" {
		return nil
	}
	j.exportMu.Lock()
	defer j.exportMu.Unlock()
	if j.Serving != nil && j.Serving.Version() != mv.Version {
		return nil // a newer model is served; its own export follows
	}
	b, err := gbdt.Load(bytes.NewReader(mv.Model))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.ExportPath), 0o755); err != nil {
		return err
	}
	return b.SaveFile(j.ExportPath)
}

// summaryMetrics are the run's headline figures. holdout_auc is left out
// when the holdout's AUC is undefined (no clicks, or only clicks).
func summaryMetrics(m *lift.ModelMetrics, took time.Duration) map[string]float64 {
	s := map[string]float64{
		"holdout_logloss": m.LogLoss, "holdout_rmse": m.RMSE, "holdout_ece": m.ECE,
		"heuristic_logloss": m.HeuristicLogLoss, "constant_logloss": m.ConstantLogLoss,
		"interval_coverage": m.IntervalCoverage, "train_seconds": took.Seconds(),
	}
	if m.AUC != nil {
		s["holdout_auc"] = *m.AUC
	}
	return s
}

// score evaluates predictions on the holdout and calibrates intervals.
func score(h *holdoutSet, pred []float64, trainMean float64) (*lift.ModelMetrics, *lift.Calibration) {
	m := evaluate(h, pred, trainMean)
	m.ECE = ece(m.Reliability)
	cal := calibrate(h, pred, IntervalLevel)
	m.IntervalCoverage = coverage(cal, h, pred)
	return m, cal
}

func predictAll(b *gbdt.Booster, h *holdoutSet) []float64 {
	pred := make([]float64, len(h.features))
	for i, x := range h.features {
		pred[i] = predictCTR(b, x)
	}
	return pred
}

// meanCTR is the impression-weighted mean CTR of clips.
func meanCTR(clips []*lift.Clip) float64 {
	var c, n float64
	for _, cl := range clips {
		c += float64(cl.Clicks)
		n += float64(cl.Impressions)
	}
	return c / n
}

// innerSplit carves a validation set for early stopping out of the
// training clips, by a second hash so it is independent of the holdout.
func innerSplit(clips []*lift.Clip, percent int) (fit, valid []*lift.Clip) {
	if percent <= 0 || len(clips) < 20 {
		return clips, nil
	}
	for _, c := range clips {
		if hashPercent("valid/"+c.ID) < percent {
			valid = append(valid, c)
		} else {
			fit = append(fit, c)
		}
	}
	return fit, valid
}

// shouldPromote compares the challenger with the champion on the same
// holdout, and returns the champion's version (0 if none): promoted if
// its log loss is lower, or within Tolerance. With no champion, it must
// beat the heuristic.
func (j *Job) shouldPromote(ctx context.Context, h *holdoutSet, m *lift.ModelMetrics, mean float64) (bool, string, int64, error) {
	champ, err := j.Store.ActiveModel(ctx)
	if lift.KindOf(err) == lift.NotFound {
		if m.LogLoss < m.HeuristicLogLoss {
			return true, fmt.Sprintf("first model: holdout logloss %.5f beats the heuristic's %.5f", m.LogLoss, m.HeuristicLogLoss), 0, nil
		}
		return false, fmt.Sprintf("holdout logloss %.5f does not beat the heuristic's %.5f", m.LogLoss, m.HeuristicLogLoss), 0, nil
	}
	if err != nil {
		return false, "", 0, err
	}
	cb, err := gbdt.Load(bytes.NewReader(champ.Model))
	if err != nil {
		// A champion that no longer loads should not block a good model.
		return true, fmt.Sprintf("the active model v%d does not load (%v)", champ.Version, err), champ.Version, nil
	}
	champLoss := logLoss(predictAll(cb, h), h.ctr, h.impr)
	switch {
	case m.LogLoss < champLoss:
		return true, fmt.Sprintf("holdout logloss %.5f beats active v%d's %.5f", m.LogLoss, champ.Version, champLoss), champ.Version, nil
	case j.Tolerance > 0 && m.LogLoss <= champLoss*(1+j.Tolerance):
		return true, fmt.Sprintf("holdout logloss %.5f is within the tolerance (%g) of active v%d's %.5f", m.LogLoss, j.Tolerance, champ.Version, champLoss), champ.Version, nil
	}
	return false, fmt.Sprintf("holdout logloss %.5f does not beat active v%d's %.5f", m.LogLoss, champ.Version, champLoss), champ.Version, nil
}
