package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"lift/dataset"
	"lift/gbdt"
)

// runGBDTTrain is `lift gbdt train`: it trains on --data, evaluates on
// --valid each round (early stopping watches its last metric), saves the
// model as XGBoost JSON and prints the rounds, timing and the metrics at the
// best iteration.
func runGBDTTrain(ctx context.Context, m *Main, args []string) error {
	usage := "gbdt train --data F --out MODEL.json [--valid F] [--label L] [--weight COL] [--objective O] [--rounds N] " +
		"[--eta X] [--max-depth N] [--min-child-weight X] [--lambda X] [--alpha X] [--gamma X] [--subsample X] " +
		"[--colsample-bytree X] [--max-bin N] [--base-score X] [--early-stopping N] [--eval-metric auc,logloss,rmse,error] " +
		"[--threads N] [--seed N]"
	fs := m.newFlagSet("gbdt train", usage)
	def := gbdt.DefaultParams()
	var df dataFlags
	df.register(fs)
	fs.StringVar(&df.weight, "weight", "", "sample weight column (name or index), e.g. impressions")
	out := fs.String("out", "", "where to write the XGBoost JSON model (required)")
	valid := fs.String("valid", "", "validation data file, same format and columns as --data")
	objective := fs.String("objective", string(def.Objective), "reg:squarederror, reg:logistic or binary:logistic")
	rounds := fs.Int("rounds", def.Rounds, "boosting rounds (trees)")
	eta := fs.Float64("eta", def.Eta, "learning rate")
	maxDepth := fs.Int("max-depth", def.MaxDepth, "depth of every tree")
	minChild := fs.Float64("min-child-weight", def.MinChildWeight, "smallest hessian sum of a child")
	lambda := fs.Float64("lambda", def.Lambda, "L2 penalty on leaf weights")
	alpha := fs.Float64("alpha", def.Alpha, "L1 penalty on leaf weights")
	gamma := fs.Float64("gamma", def.Gamma, "smallest loss reduction a split must make")
	subsample := fs.Float64("subsample", def.Subsample, "fraction of rows sampled per tree (seeded)")
	colsample := fs.Float64("colsample-bytree", def.ColsampleBytree, "fraction of features sampled per tree (seeded)")
	maxBin := fs.Int("max-bin", def.MaxBin, "histogram bins per feature")
	baseScore := fs.String("base-score", "", "initial prediction (a probability for the logistic objectives; default 0.5, as XGBoost 1.7)")
	early := fs.Int("early-stopping", 0, "stop when the last --eval-metric on --valid has not improved for N rounds (0: off); "+
		"the printed metrics are then the best round's, while the saved model keeps every round, and gbdt predict and gbdt eval use every "+
		"tree, as XGBoost's native save and predict do (the model records best_iteration)")
	evalMetric := fs.String("eval-metric", "", "comma-separated metrics: auc, logloss, rmse, error (default: rmse, or logloss for binary:logistic)")
	threads := fs.Int("threads", 0, "worker threads (0: all CPUs)")
	seed := seedFlag(fs, "seed", 0, "seed for --subsample and --colsample-bytree")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of training to this file")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := df.check(); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if err := checkOutPath(*out); err != nil {
		return err
	}

	p := def
	p.Objective = gbdt.Objective(*objective)
	p.Rounds, p.Eta, p.MaxDepth, p.MinChildWeight = *rounds, *eta, *maxDepth, *minChild
	p.Lambda, p.Alpha, p.Gamma = *lambda, *alpha, *gamma
	p.Subsample, p.ColsampleBytree, p.MaxBin = *subsample, *colsample, *maxBin
	p.EarlyStopping, p.Threads, p.Seed = *early, *threads, *seed
	if *baseScore != "" {
		v, err := strconv.ParseFloat(*baseScore, 64)
		if err != nil || math.IsNaN(v) {
			return usagef("--base-score %q: want a number", *baseScore)
		}
		p.BaseScore = v
	}
	if *evalMetric != "" {
		for _, name := range strings.Split(*evalMetric, ",") {
			if name = strings.TrimSpace(name); name != "" {
				p.EvalMetrics = append(p.EvalMetrics, name)
			}
		}
	}
	if err := p.Validate(); err != nil {
		return usagef("%v", err)
	}
	if p.EarlyStopping > 0 && *valid == "" {
		return usagef("--early-stopping needs --valid")
	}

	opt := dataset.Options{Format: df.format, Label: df.label, Weight: df.weight}
	train, err := dataset.ReadFile(df.data, opt)
	if err != nil {
		return err
	}
	names := p.EvalMetrics
	if len(names) == 0 {
		names = []string{"rmse"}
		if p.Objective == gbdt.BinaryLogistic {
			names = []string{"logloss"}
		}
	}
	// A metric the labels do not allow (auc on labels outside [0, 1]) is
	// refused before training, naming the file. The logistic objectives
	// refuse such labels themselves, naming the objective, which says more.
	checkLabels := func(path string, d *dataset.Dense) error {
		for _, name := range names {
			if err := gbdt.CheckMetricLabels(name, d.Label); err != nil && p.Objective == gbdt.SquaredError {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	}
	if err := checkLabels(df.data, train); err != nil {
		return err
	}
	var evals []gbdt.EvalSet
	if *valid != "" {
		v, err := dataset.ReadFile(*valid, opt)
		if err != nil {
			return err
		}
		if v, err = sameColumns(train, v, *valid, isSparse(*valid, df.format)); err != nil {
			return err
		}
		if err := checkLabels(*valid, v); err != nil {
			return err
		}
		evals = append(evals, gbdt.EvalSet{Name: "valid", Data: v})
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	start := time.Now()
	b, res, err := gbdt.Train(ctx, p, train, evals, m.Stderr)
	if err != nil {
		return err
	}
	seconds := time.Since(start).Seconds()

	// The training metrics are computed once, for the chosen model, rather
	// than every round: on big data that would cost more than training.
	// A metric undefined for the data (AUC with one class) is null, as in
	// `gbdt eval`: JSON has no NaN.
	metrics := map[string]map[string]*float64{}
	if v, ok := res.Metrics["valid"]; ok {
		metrics["valid"] = map[string]*float64{}
		for name, x := range v {
			metrics["valid"][name] = defined(x)
		}
	}
	best := b.Truncate(res.BestIteration + 1)
	preds := best.PredictBatch(train, false, p.Threads)
	metrics["train"] = map[string]*float64{}
	for _, name := range names {
		v, err := gbdt.Metric(name, preds, train.Label, train.Weight)
		if err != nil {
			return err
		}
		metrics["train"][name] = defined(v)
	}

	keepColumns(b, train, df)
	if err := b.SaveFile(*out); err != nil {
		return err
	}
	return writeJSON(m.Stdout, map[string]any{
		"rounds":         res.Rounds,
		"best_iteration": res.BestIteration,
		"train_seconds":  seconds,
		"metrics":        metrics,
	})
}

// sameColumns checks that the validation file's features line up with the
// training file's, as `gbdt eval` would line them up with the model's: the
// same names when both have a header, else the same number of columns. A
// sparse (libsvm) validation file may have fewer: it ends at its largest
// index, and the absent features are missing. A VW validation file is
// lined up by name (its absent features are 0), and returned so.
func sameColumns(train, valid *dataset.Dense, path string, sparse bool) (*dataset.Dense, error) {
	if valid.AbsentIsZero && train.Names == nil {
		return nil, fmt.Errorf("%s: a VW file's features line up by name, and the training data has no feature names", path)
	}
	if train.Names != nil && valid.Names != nil {
		if valid.AbsentIsZero {
			return columnsByName(valid, train.Names, path, "the training data's")
		}
		if len(train.Names) != len(valid.Names) {
			return nil, fmt.Errorf("%s: %d feature columns, the training data has %d", path, len(valid.Names), len(train.Names))
		}
		for i := range train.Names {
			if train.Names[i] != valid.Names[i] {
				return nil, fmt.Errorf("%s: feature column %d is %q, the training data's is %q", path, i, valid.Names[i], train.Names[i])
			}
		}
		return valid, nil
	}
	if valid.Cols > train.Cols || (valid.Cols < train.Cols && !sparse) {
		return nil, fmt.Errorf("%s: %d feature columns, the training data has %d (is --label right?)", path, valid.Cols, train.Cols)
	}
	return valid, nil
}
