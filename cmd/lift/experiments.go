package main

import (
	"context"
	"fmt"
	"time"

	"lift"
)

var experimentsCommand = &command{
	name:    "experiments",
	summary: "the experiments' decision logs: prune --before TIME | --older-than DURATION [--experiment ID]",
	run:     runExperiments,
}

// runExperiments deletes old decisions and their rewards: every decision
// is logged, and the log grows without end unless it is pruned. What the
// policy and the stats learnt from them is kept in the policy snapshot,
// and only what the latest snapshot covers is deleted (docs/OPERATIONS.md,
// retention).
func runExperiments(ctx context.Context, m *Main, args []string) error {
	usage := "experiments prune (--before TIME | --older-than DURATION) [--experiment ID] [--db sqlite:lift.db]"
	fs := m.newFlagSet("experiments", usage)
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	beforeFlag := fs.String("before", "", "delete the decisions, and their rewards, made before this RFC 3339 time")
	olderThan := fs.Duration("older-than", 0, "delete the decisions, and their rewards, older than this (at least 1h; e.g. 2160h for 90 days)")
	only := fs.String("experiment", "", "prune this experiment's log only (default: every experiment's)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "prune" {
		return usagef("usage: lift %s", usage)
	}
	// Every running replica follows the log each second, so by then none
	// is still to learn them from it; one that is behind reloads its
	// policy from the snapshot.
	before, err := pruneCut(fs, *beforeFlag, *olderThan, time.Now(), lift.MinLogPruneAge)
	if err != nil {
		return err
	}
	if isSet(fs, "experiment") && *only == "" {
		return usagef("--experiment needs an experiment id (leave it out to prune every experiment's log)")
	}
	db, err := m.openExistingDB(ctx, *dsn)
	if err != nil {
		return err
	}
	var ids []string
	if *only != "" {
		ids = []string{*only}
	} else {
		es, err := db.ListExperiments(ctx)
		if err != nil {
			return err
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
	}
	deleted := map[string]int64{}
	var total int64
	for _, id := range ids {
		n, err := db.PruneExperimentLog(ctx, id, before)
		total += n
		if err != nil && total == 0 {
			return err
		}
		if err != nil {
			// Each chunk commits on its own: what was deleted stays deleted.
			return fmt.Errorf("pruning stopped after deleting %d decisions: %w", total, err)
		}
		deleted[id] = n
	}
	return writeJSON(m.Stdout, map[string]any{"deleted": total, "experiments": deleted, "before": before.UTC().Format(time.RFC3339Nano)})
}
