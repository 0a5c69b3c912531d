package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"lift"
	"lift/demo"
	"lift/experiment"
)

// defaultDemoClips is enough for a holdout (~400 clips) that scores a model
// and calibrates its intervals with little noise, and loads in a second.
const defaultDemoClips = 2000

var demoCommand = &command{
	name:    "demo",
	summary: "load realistic synthetic clips and outcomes",
	run:     runDemo,
}

func runDemo(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("demo", "demo [--db sqlite:lift.db] [--clips 2000] [--seed 1]")
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	n := fs.Int("clips", defaultDemoClips, "number of clips")
	seed := seedFlag(fs, "seed", 1, "random seed")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := checkFlags(flagCheck{*n >= 1 && *n <= 1_000_000, "clips", *n, "in [1, 1000000]"}); err != nil {
		return err
	}
	// The demo experiment's traffic draws as `lift serve` would with the
	// same environment.
	expSeed, err := envSeed(m, "LIFT_EXPERIMENT_SEED", experimentSeed)
	if err != nil {
		return err
	}
	db, err := m.openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	var svc *experiment.Service
	if es, ok := db.(lift.ExperimentStore); ok {
		svc = &experiment.Service{Store: es, Clips: db, Predictor: lift.Heuristic{Bands: lift.DefaultBands}, Seed: expSeed}
	}
	loaded, err := loadDemo(ctx, db, svc, *n, *seed)
	if err != nil {
		return err
	}
	out := map[string]any{"clips": loaded}
	if loaded == 0 {
		out["message"] = "demo data already loaded"
	}
	return writeJSON(m.Stdout, out)
}

// loadDemo stores n demo clips with their outcomes, and (when svc is
// set) one experiment with simulated traffic, unless demo clips are
// already there (so restarts with --demo do not double the outcomes). It
// returns how many clips it loaded.
func loadDemo(ctx context.Context, db Store, svc *experiment.Service, n int, seed uint64) (int, error) {
	if _, err := db.GetClip(ctx, "demo-0001"); err == nil {
		return 0, nil
	} else if lift.KindOf(err) != lift.NotFound {
		return 0, err
	}
	d := demo.Generate(rand.New(rand.NewPCG(seed, 0x11f7)), n, time.Now())
	if err := db.PutClips(ctx, d.Clips); err != nil {
		return 0, err
	}
	if err := db.AddOutcomes(ctx, d.Outcomes); err != nil {
		return 0, err
	}
	if svc != nil {
		if err := demoExperiment(ctx, svc, d, seed); err != nil {
			return 0, err
		}
	}
	return len(d.Clips), nil
}

// DemoExperimentID names the demo's experiment.
const DemoExperimentID = "demo-thumbnails"

// demoTraffic is how many simulated visitors the demo experiment sees.
const demoTraffic = 3000

// demoExperiment runs a thumbnail test over three demo clips: each
// visitor's click is drawn from the clip's hidden true CTR, so the stats
// page shows a real leader emerging.
func demoExperiment(ctx context.Context, svc *experiment.Service, d *demo.Data, seed uint64) error {
	clips := d.Clips[:min(3, len(d.Clips))]
	if len(clips) < 2 {
		return nil
	}
	e := &lift.Experiment{ID: DemoExperimentID, RewardWait: lift.Duration{Duration: time.Hour}}
	truth := map[string]float64{}
	for i, c := range clips {
		id := string(rune('A'+i)) + "-" + c.ID
		e.Variants = append(e.Variants, lift.Variant{ID: id, ClipID: c.ID})
		truth[id] = demo.TrueCTR(c.Features())
	}
	if _, err := svc.Create(ctx, e); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0xd3))
	for i := range demoTraffic {
		dec, err := svc.Decide(ctx, DemoExperimentID, experiment.DecideRequest{EventID: fmt.Sprintf("demo-%05d", i)})
		if err != nil {
			return err
		}
		reward := 0.0
		if rng.Float64() < truth[dec.Variant] {
			reward = 1
		}
		if _, err := svc.Reward(ctx, DemoExperimentID, dec.EventID, reward); err != nil {
			return err
		}
	}
	return svc.SnapshotAll(ctx)
}

var migrateCommand = &command{
	name:    "migrate",
	summary: "create or upgrade the database schema",
	run: func(ctx context.Context, m *Main, args []string) error {
		fs := m.newFlagSet("migrate", "migrate [--db sqlite:lift.db]")
		dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
		if err := parseNoArgs(fs, args); err != nil {
			return err
		}
		if _, err := m.openDB(ctx, *dsn); err != nil { // Open migrates.
			return err
		}
		return writeJSON(m.Stdout, map[string]any{"migrated": true, "db": redact(*dsn)})
	},
}
