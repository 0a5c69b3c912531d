package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"lift/bandit"
	"lift/dataset"
)

var banditCommand = &command{
	name:    "bandit",
	summary: "contextual bandits on files: simulate (VW's --cbify), evaluate (off-policy, DSJSON logs)",
	run:     runBandit,
}

var banditSubcommands = map[string]func(ctx context.Context, m *Main, args []string) error{
	"simulate": runBanditSimulate,
	"evaluate": runBanditEvaluate,
}

var banditSummaries = map[string]string{
	"simulate": "play a policy on a multiclass data set as VW's --cbify does; progressive loss",
	"evaluate": "estimate a policy's reward from a DSJSON log (IPS, SNIPS, DR)",
}

const banditPolicyHelp = "policy: default, epsilon-greedy[:EPS], softmax[:LAMBDA], thompson, lin-ts[:V], linucb[:ALPHA], squarecb[:GAMMA], greedy; options after commas, e.g. squarecb:20,estimator=mtr,quadratic=true"

func runBandit(ctx context.Context, m *Main, args []string) error {
	return dispatch(ctx, m, "bandit", banditSubcommands, banditSummaries, args)
}

func runBanditSimulate(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("bandit simulate", "bandit simulate --data F [--label L] [--policy P] [--seed N] [--shuffle-seed N] [--log OUT.dsjson]")
	data := fs.String("data", "", "multiclass data: .vw (labels 1..K), or .csv/.tsv/.libsvm whose label values are the classes; optionally .gz (required)")
	format := fs.String("format", "", "vw, csv, tsv or libsvm (default: by the file's extension)")
	label := fs.String("label", "", "CSV/TSV label column: header name or 0-based index (default: the column named label, else 0)")
	policy := fs.String("policy", "default", banditPolicyHelp)
	seed := seedFlag(fs, "seed", 0, "seed of the action sampling (each round's randomness is a hash of the seed and the round number)")
	shuffle := seedFlag(fs, "shuffle-seed", 0, "play the rows in an order shuffled with this seed by Lift's own PCG shuffle (not Python's random.shuffle); default: file order")
	logPath := fs.String("log", "", "write every round as a VW DSJSON line to this file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bandit simulate: unexpected argument %q", pos[0])
	}
	if *data == "" {
		return usagef("bandit simulate: --data is required")
	}
	shuffled := isSet(fs, "shuffle-seed")
	p, err := bandit.ParsePolicy(*policy)
	if err != nil {
		return usagef("bandit simulate: --policy: %v", err)
	}
	mc, err := readMulticlass(*data, *format, *label)
	if err != nil {
		return err
	}
	var order []int
	if shuffled {
		order = bandit.ShuffledOrder(mc.Rows, *shuffle)
	}
	var res bandit.SimResult
	if *logPath != "" {
		res, err = simulateWithLog(ctx, p, mc, order, *seed, *logPath)
	} else {
		res, err = bandit.Simulate(ctx, p, mc, order, *seed)
	}
	if err != nil {
		return err
	}
	out := map[string]any{
		"policy":            p.Name(),
		"rounds":            res.Rounds,
		"loss":              res.Loss,
		"reward":            res.Reward,
		"decisions_per_sec": float64(res.Rounds) / math.Max(res.Seconds, 1e-9),
		"seconds":           res.Seconds,
		"actions":           mc.K,
		"features":          mc.Cols,
		"seed":              *seed,
	}
	if shuffled {
		out["shuffle_seed"] = *shuffle
	}
	return writeJSON(m.Stdout, out)
}

// simulateWithLog is Simulate that also writes each round as DSJSON; it
// is a separate loop so that the plain simulation stays free of I/O (its
// decisions/s here include writing the log).
func simulateWithLog(ctx context.Context, p bandit.Policy, mc *dataset.Multiclass, order []int, seed uint64, path string) (bandit.SimResult, error) {
	f, err := os.Create(path)
	if err != nil {
		return bandit.SimResult{}, err
	}
	w := bufio.NewWriter(f)
	actions := make([]bandit.Action, mc.K)
	for i := range actions {
		actions[i].ID = strconv.Itoa(i + 1)
	}
	var res bandit.SimResult
	start := time.Now()
	for t := 0; t < mc.Rows && (order == nil || t < len(order)); t++ {
		if t%1024 == 0 && ctx.Err() != nil {
			f.Close()
			return res, ctx.Err()
		}
		row := t
		if order != nil {
			row = order[t]
		}
		c := bandit.Context{Vector: mc.Row(row)}
		id := strconv.Itoa(t)
		d, err := bandit.Decide(p, id, c, actions, seed)
		if err != nil {
			f.Close()
			return res, fmt.Errorf("round %d: %w", t+1, err)
		}
		var r float64
		if d.Index+1 == mc.Label[row] {
			r = 1
		}
		ev := bandit.Event{Context: c, Actions: actions, Chosen: d.Index, Reward: r, Probability: d.Probability}
		if err := bandit.WriteDSJSON(w, bandit.LoggedEvent{EventID: id, Event: ev, PMF: d.PMF, Rewarded: true}); err != nil {
			f.Close()
			return res, err
		}
		if err := p.Learn(ev); err != nil {
			f.Close()
			return res, fmt.Errorf("round %d: %w", t+1, err)
		}
		res.Rounds++
		res.Reward += r
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	res.Reward /= float64(res.Rounds)
	res.Loss = 1 - res.Reward
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// readMulticlass reads a VW multiclass file directly, or a CSV/TSV/libsvm
// file whose distinct label values become the classes (integers 1..K keep
// their numbers; anything else is numbered in sorted order). A missing
// feature value counts as 0 to the bandit.
func readMulticlass(path, format, label string) (*dataset.Multiclass, error) {
	if format == "" {
		format = dataset.FormatOf(path)
	}
	if strings.ToLower(format) == "vw" {
		if label != "" {
			return nil, usagef("--label does not apply to VW files (the label is the first token)")
		}
		f, err := dataset.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		mc, err := dataset.ReadVWMulticlass(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return mc, nil
	}
	d, err := dataset.ReadFile(path, dataset.Options{Format: format, Label: label})
	if err != nil {
		return nil, err
	}
	if d.Rows == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	var vals []float32
	for _, v := range d.Label {
		if math.IsNaN(float64(v)) {
			return nil, fmt.Errorf("%s: a label is missing", path)
		}
		vals = append(vals, v)
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	natural := vals[0] >= 1 && vals[len(vals)-1] <= 1000
	for _, v := range vals {
		natural = natural && v == float32(math.Trunc(float64(v)))
	}
	mc := &dataset.Multiclass{Rows: d.Rows, Cols: d.Cols, Names: d.Names, X: make([]float64, len(d.X)), Label: make([]int, d.Rows)}
	for i, v := range d.X {
		if !math.IsNaN(float64(v)) {
			mc.X[i] = float64(v)
		}
	}
	for i, v := range d.Label {
		if natural {
			mc.Label[i] = int(v)
		} else {
			mc.Label[i] = 1 + sort.Search(len(vals), func(j int) bool { return vals[j] >= v })
		}
		mc.K = max(mc.K, mc.Label[i])
	}
	if mc.K < 2 {
		return nil, fmt.Errorf("%s: the label has a single class; a bandit needs at least 2 actions", path)
	}
	if mc.K > dataset.MaxVWClasses {
		return nil, fmt.Errorf("%s: the label has %d classes; a bandit here takes at most %d actions", path, mc.K, dataset.MaxVWClasses)
	}
	return mc, nil
}

func runBanditEvaluate(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("bandit evaluate", "bandit evaluate --log F.dsjson --policy P [--learn=true] [--clip X]")
	logPath := fs.String("log", "", "VW DSJSON log with propensities, optionally .gz (required)")
	policy := fs.String("policy", "", banditPolicyHelp+" (required)")
	learn := fs.Bool("learn", true, "let the policy learn from each event after scoring it (progressive, as VW on a log); false evaluates the untrained policy")
	clip := fs.Float64("clip", 0, "clip logged probabilities below this in the importance weights (0 = none)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bandit evaluate: unexpected argument %q", pos[0])
	}
	if *logPath == "" || *policy == "" {
		return usagef("bandit evaluate: --log and --policy are required")
	}
	if !(*clip >= 0 && *clip <= 1) {
		return usagef("bandit evaluate: --clip %v is not in [0, 1]", *clip)
	}
	p, err := bandit.ParsePolicy(*policy)
	if err != nil {
		return usagef("bandit evaluate: --policy: %v", err)
	}
	f, err := dataset.Open(*logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	logs, err := bandit.ReadDSJSON(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *logPath, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	est, err := bandit.EvaluateWith(logs, p, bandit.EvalOptions{Learn: *learn, MinProbability: *clip})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("%s: %w", *logPath, err)
	}
	return writeJSON(m.Stdout, map[string]any{
		"policy": p.Name(), "n": est.N, "ips": est.IPS, "snips": est.SNIPS, "dr": est.DR,
		"dm": est.DM, "mean_weight": est.MeanWeight, "skipped": est.Skipped,
	})
}
