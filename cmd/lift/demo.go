package main

import (
	"context"
	"math/rand/v2"
	"time"

	"lift"
	"lift/demo"
)

const defaultDemoClips = 300

var demoCommand = &command{
	name:    "demo",
	summary: "load realistic synthetic clips and outcomes",
	run:     runDemo,
}

func runDemo(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("demo", "demo [--db sqlite:lift.db] [--clips 300] [--seed 1]")
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	n := fs.Int("clips", defaultDemoClips, "number of clips")
	seed := fs.Uint64("seed", 1, "random seed")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 1_000_000 {
		return usagef("--clips must be in [1, 1000000], got %d", *n)
	}
	db, err := m.openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	loaded, err := loadDemo(ctx, db, *n, *seed)
	if err != nil {
		return err
	}
	out := map[string]any{"clips": loaded}
	if loaded == 0 {
		out["message"] = "demo data already loaded"
	}
	return writeJSON(m.Stdout, out)
}

// loadDemo stores n demo clips with their outcomes unless demo clips are
// already there (so restarts with --demo do not double the outcomes). It
// returns how many clips it loaded.
func loadDemo(ctx context.Context, db Store, n int, seed uint64) (int, error) {
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
	return len(d.Clips), nil
}

var migrateCommand = &command{
	name:    "migrate",
	summary: "create or upgrade the database schema",
	run: func(ctx context.Context, m *Main, args []string) error {
		fs := m.newFlagSet("migrate", "migrate [--db sqlite:lift.db]")
		dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		if _, err := m.openDB(ctx, *dsn); err != nil { // Open migrates.
			return err
		}
		return writeJSON(m.Stdout, map[string]any{"migrated": true, "db": redact(*dsn)})
	},
}
