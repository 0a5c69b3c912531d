package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"lift"
	"lift/gbdt"
	"lift/trainer"
)

var trainCommand = &command{
	name:    "train",
	summary: "the nightly job: train, evaluate, register, promote if better",
	run:     runTrain,
}

func runTrain(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("train", "train [--db sqlite:lift.db] [--preset logistic|seed] [--rounds N] [--max-depth N] [--eta X] [--early-stopping N] [--tolerance X] [--export PATH]")
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	preset := fs.String("preset", "logistic", "logistic (binomial likelihood, impression-weighted) or seed (the seed's squared error)")
	rounds := fs.Int("rounds", 0, "boosting rounds (0: the preset's)")
	depth := fs.Int("max-depth", 0, "tree depth (0: the preset's)")
	eta := fs.Float64("eta", 0, "learning rate (0: the preset's)")
	early := fs.Int("early-stopping", 0, "stop after this many rounds without improvement on the inner validation set (0: off; not given: the preset's)")
	tolerance := fs.Float64("tolerance", 0, "also promote a model whose holdout logloss is up to this fraction worse than the active one's (0.01: 1% worse; 0: only a better one)")
	export := fs.String("export", defaultExport, "where the promoted model's XGBoost JSON is written; missing directories are created (empty: nowhere)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkFlags(
		flagCheck{*rounds >= 0, "rounds", *rounds, "1 or more (0: the preset's)"},
		flagCheck{*depth >= 0, "max-depth", *depth, "1 or more (0: the preset's)"},
		flagCheck{finiteAtLeast(*eta, 0), "eta", *eta, "a finite number > 0 (0: the preset's)"},
		flagCheck{*early >= 0, "early-stopping", *early, "0 (off) or more"},
		flagCheck{finiteAtLeast(*tolerance, 0), "tolerance", *tolerance, "a finite fraction, 0 or more (0.01 promotes a model up to 1% worse)"},
	); err != nil {
		return err
	}
	params := map[string]any{"preset": *preset}
	if *rounds != 0 {
		params["rounds"] = float64(*rounds)
	}
	if *depth != 0 {
		params["max_depth"] = float64(*depth)
	}
	if *eta != 0 {
		params["eta"] = *eta
	}
	if isSet(fs, "early-stopping") {
		params["early_stopping"] = float64(*early)
	}
	opts, err := trainer.ParseOptions(params)
	if err != nil {
		return usagef("%s", lift.Message(err))
	}
	// Training needs the clips and outcomes of a database that exists: a
	// mistyped --db must not create an empty one. Nor is a database that
	// is not there "not enough data" (exit 0): under cron, whose working
	// directory is the home directory, the default relative lift.db is
	// such a file, and a job that never trains must fail where it is
	// watched (exit 1, as lift models list).
	db, err := m.openExistingDB(ctx, *dsn)
	if err != nil {
		return err
	}
	job := &trainer.Job{
		Store: db, ExportPath: *export, Tolerance: *tolerance,
		Logger: slog.New(slog.NewTextHandler(m.Stderr, nil)), Progress: m.Stderr,
		Holder: fmt.Sprintf("lift-train-%d", os.Getpid()),
	}
	sum, err := job.Run(ctx, opts)
	if err != nil {
		return err
	}
	if !sum.Success {
		fmt.Fprintln(m.Stderr, "lift train:", sum.Message)
	}
	return writeJSON(m.Stdout, sum)
}

var modelsCommand = &command{
	name:    "models",
	summary: "the model registry: list | import FILE | activate VERSION",
	run:     runModels,
}

func runModels(ctx context.Context, m *Main, args []string) error {
	usage := "models list | import FILE [--note TEXT] | activate VERSION   [--db sqlite:lift.db] [--export PATH]"
	fs := m.newFlagSet("models", usage)
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	note := fs.String("note", "", "a note stored with an imported model")
	export := fs.String("export", defaultExport, "where the activated model's XGBoost JSON is written; missing directories are created (empty: nowhere)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: lift %s", usage)
	}
	want := map[string]int{"list": 1, "import": 2, "activate": 2}
	if n, ok := want[pos[0]]; !ok || len(pos) != n {
		return usagef("usage: lift %s", usage)
	}
	// The arguments and the model file are checked before the database is
	// opened (and perhaps created), so that bad input changes nothing.
	var version int64
	var model *gbdt.Booster
	switch pos[0] {
	case "activate":
		if version, err = strconv.ParseInt(pos[1], 10, 64); err != nil || version < 1 {
			return usagef("VERSION must be a positive integer, got %q", pos[1])
		}
	case "import":
		data, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		if model, err = trainer.ParseModel(data); err != nil {
			return fmt.Errorf("%s: %s", pos[1], lift.Message(err))
		}
	}
	// Listing and activating work on a registry that exists: a mistyped
	// --db is an error, not a new empty database. An import may create one.
	open := m.openExistingDB
	if pos[0] == "import" {
		open = m.openDB
	}
	db, err := open(ctx, *dsn)
	if err != nil {
		return err
	}
	// A failed export is logged, as by lift train: the activation in the
	// registry stands whatever happens to the file.
	job := &trainer.Job{Store: db, ExportPath: *export, Logger: slog.New(slog.NewTextHandler(m.Stderr, nil))}
	switch pos[0] {
	case "list":
		ms, err := db.ListModels(ctx)
		if err != nil {
			return err
		}
		if ms == nil {
			ms = []*lift.ModelVersion{}
		}
		return writeJSON(m.Stdout, map[string]any{"models": ms})
	case "import":
		mv, err := job.Import(ctx, model, *note)
		if err != nil {
			return err
		}
		mv.Calibration = nil
		return writeJSON(m.Stdout, mv)
	default:
		mv, err := job.Activate(ctx, version)
		if err != nil {
			return err
		}
		mv.Calibration = nil
		return writeJSON(m.Stdout, mv)
	}
}
