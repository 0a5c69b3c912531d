package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

var predictionsCommand = &command{
	name:    "predictions",
	summary: "the log of recorded predictions: prune --before TIME | --older-than DURATION",
	run:     runPredictions,
}

// runPredictions deletes recorded predictions made before a time: every
// answer of POST /predict/ctr is recorded, and the log grows without end
// unless it is pruned (docs/OPERATIONS.md, retention).
func runPredictions(ctx context.Context, m *Main, args []string) error {
	usage := "predictions prune (--before TIME | --older-than DURATION) [--db sqlite:lift.db]"
	fs := m.newFlagSet("predictions", usage)
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	beforeFlag := fs.String("before", "", "delete the predictions made before this RFC 3339 time")
	olderThan := fs.Duration("older-than", 0, "delete the predictions older than this (e.g. 2160h for 90 days)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "prune" {
		return usagef("usage: lift %s", usage)
	}
	before, err := pruneCut(fs, *beforeFlag, *olderThan, time.Now(), 0)
	if err != nil {
		return err
	}
	// A log that does not exist has nothing to prune: a mistyped --db
	// must not create an empty database.
	db, err := m.openExistingDB(ctx, *dsn)
	if err != nil {
		return err
	}
	n, err := db.PrunePredictions(ctx, before)
	if err != nil {
		// Each chunk commits on its own: what was deleted stays deleted.
		return fmt.Errorf("pruning stopped after deleting %d predictions: %w", n, err)
	}
	return writeJSON(m.Stdout, map[string]any{"deleted": n, "before": before.UTC().Format(time.RFC3339Nano)})
}

// pruneCut is the time before which a prune deletes, from --before or
// --older-than (exactly one of them set); it must be at least minAge in
// the past.
func pruneCut(fs *flag.FlagSet, beforeFlag string, olderThan time.Duration, now time.Time, minAge time.Duration) (time.Time, error) {
	var before time.Time
	switch {
	case (beforeFlag == "") == !isSet(fs, "older-than"):
		return before, usagef("give one of --before and --older-than")
	case beforeFlag != "":
		var err error
		if before, err = time.Parse(time.RFC3339Nano, beforeFlag); err != nil {
			return before, usagef("--before %q is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)", beforeFlag)
		}
	default:
		if olderThan <= 0 {
			return before, usagef("--older-than must be a positive duration (e.g. 2160h for 90 days), got %s", olderThan)
		}
		before = now.Add(-olderThan)
	}
	if before.After(now) {
		return before, usagef("--before %s is in the future: it would delete what was recorded since", before.UTC().Format(time.RFC3339))
	}
	if before.After(now.Add(-minAge)) {
		return before, usagef("the cut must be at least %s in the past (--older-than %s or more), got %s", minAge, minAge, before.UTC().Format(time.RFC3339))
	}
	return before, nil
}
