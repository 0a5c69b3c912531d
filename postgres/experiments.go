package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lift"
	"lift/internal/groupcommit"
)

var _ lift.ExperimentStore = (*DB)(nil)

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// sqlLimit turns a negative limit into no limit (NULL), as SQLite's LIMIT -1.
func sqlLimit(limit int) *int {
	if limit < 0 {
		return nil
	}
	return &limit
}

// CreateExperiment implements lift.ExperimentStore.
func (db *DB) CreateExperiment(ctx context.Context, e *lift.Experiment) (err error) {
	defer lift.Wrap(&err, "ExperimentStore.CreateExperiment(%q)", e.ID)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = db.Now()
	}
	def, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO experiments(id, definition, created_at) VALUES ($1,$2,$3)`, e.ID, def, e.CreatedAt)
		if pgCode(err) == uniqueViolation {
			return lift.Errorf(lift.Conflict, "experiment %q already exists", e.ID)
		}
		return err
	})
}

// ModifyExperiment implements lift.ExperimentStore: the row is locked
// from the read to the commit, so replicas' changes queue. FOR NO KEY
// UPDATE, the lock an UPDATE of a column that is not a key takes, lets
// decisions go on being inserted meanwhile (their foreign key's check
// takes FOR KEY SHARE, which FOR UPDATE would block).
func (db *DB) ModifyExperiment(ctx context.Context, id string, change func(*lift.Experiment) error) (_ *lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ModifyExperiment(%q)", id)
	var out *lift.Experiment
	err = db.tx(ctx, func(tx pgx.Tx) error {
		var def []byte
		err := tx.QueryRow(ctx, `SELECT definition FROM experiments WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&def)
		if errors.Is(err, pgx.ErrNoRows) {
			return lift.Errorf(lift.NotFound, "experiment %q not found", id)
		}
		if err != nil {
			return err
		}
		e, b, err := lift.ChangedDefinition(def, change)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE experiments SET definition = $1 WHERE id = $2`, b, id); err != nil {
			return err
		}
		out = e
		return nil
	})
	return out, classify(err)
}

// GetExperiment implements lift.ExperimentStore.
func (db *DB) GetExperiment(ctx context.Context, id string) (_ *lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.GetExperiment(%q)", id)
	var def []byte
	err = db.pool.QueryRow(ctx, `SELECT definition FROM experiments WHERE id = $1`, id).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "experiment %q not found", id)
	}
	if err != nil {
		return nil, classify(err)
	}
	var e lift.Experiment
	return &e, json.Unmarshal(def, &e)
}

// ListExperiments implements lift.ExperimentStore.
func (db *DB) ListExperiments(ctx context.Context) (_ []*lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ListExperiments")
	rows, err := db.pool.Query(ctx, `SELECT definition FROM experiments ORDER BY id`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*lift.Experiment
	for rows.Next() {
		var def []byte
		if err := rows.Scan(&def); err != nil {
			return nil, classify(err)
		}
		var e lift.Experiment
		if err := json.Unmarshal(def, &e); err != nil {
			return nil, err
		}
		out = append(out, &e)
	}
	return out, classify(rows.Err())
}

// SaveDecision implements lift.ExperimentStore. Decisions are inserted in
// batches, as predictions are (commitBatches): every decision waiting at
// once goes into one statement and one commit, so a replica under load
// pays one round trip and one WAL flush for many decisions instead of one
// each, and PostgreSQL runs one backend where it ran one per decision.
func (db *DB) SaveDecision(ctx context.Context, d *lift.Decision) (err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveDecision(%q)", d.EventID)
	p, err := newPendingDecision(d)
	if err != nil {
		return err
	}
	if len(p.context)+len(p.variants)+len(p.pmf) > maxBatchedDecisionBytes {
		// A decision this large (a context of thousands of features) is
		// inserted alone: a batch of them would be a statement of
		// hundreds of megabytes, held twice in memory.
		return db.insertDecision(ctx, p)
	}
	return groupcommit.SubmitUntil(ctx, db.decisions, db.stopped, errClosed, p)
}

// maxBatchedDecisionBytes is the largest decision (its JSON columns) that
// goes into a batch: 256 of them make a statement of at most 16 MB.
const maxBatchedDecisionBytes = 64 << 10

// pendingDecision is a decision waiting for its batch, its JSON columns
// encoded by the caller.
type pendingDecision struct {
	d                      *lift.Decision
	context, variants, pmf []byte
}

func newPendingDecision(d *lift.Decision) (*pendingDecision, error) {
	c, err := json.Marshal(d.Context)
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "decision context: %v", err)
	}
	v, _ := json.Marshal(d.Variants)
	p, err := json.Marshal(d.PMF)
	if err != nil {
		return nil, lift.Errorf(lift.Invalid, "decision pmf: %v", err)
	}
	return &pendingDecision{d: d, context: c, variants: v, pmf: p}, nil
}

type decisionReq = groupcommit.Request[*pendingDecision]

// maxDecisionBatch bounds the decisions one statement inserts.
const maxDecisionBatch = 256

// saveDecisions inserts the decisions SaveDecision queues (commitBatches).
func (db *DB) saveDecisions(ctx context.Context) {
	commitBatches(ctx, db.decisions, maxDecisionBatch, db.insertDecisions, db.insertDecision)
}

// insertDecisions inserts a batch of decisions in one statement and sets
// their seqs. An event already decided (before, or earlier in the batch)
// is not inserted, and its caller gets the conflict insertDecision would
// give. Any other error fails the statement, and commitBatches inserts
// each decision on its own. Rows go in in key order: an insert waits for
// another transaction's uncommitted row of the same key, and two
// replicas' batches sharing events in opposite orders would wait on each
// other (TestDecisionBatchesDeadlock).
func (db *DB) insertDecisions(ctx context.Context, rs []*decisionReq) ([]error, error) {
	if len(rs) == 1 {
		return []error{db.insertDecision(ctx, rs[0].Item)}, nil
	}
	type key struct{ experiment, event string }
	n := len(rs)
	var (
		errs                    = make([]error, n)
		first                   = make(map[key]int, n)
		exp, event              = make([]string, 0, n), make([]string, 0, n)
		contexts, variants, pmf = make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
		chosen                  = make([]int32, 0, n)
		prob                    = make([]float64, 0, n)
		policy                  = make([]int64, 0, n)
		created, deadline       = make([]time.Time, 0, n), make([]time.Time, 0, n)
	)
	for i, r := range rs {
		d := r.Item.d
		k := key{d.ExperimentID, d.EventID}
		if _, dup := first[k]; dup {
			// The first of them is decided by this statement, or was
			// before it: either way this one is a second decision.
			errs[i] = decisionConflict(d)
			continue
		}
		first[k] = i
		exp, event = append(exp, d.ExperimentID), append(event, d.EventID)
		contexts, variants, pmf = append(contexts, r.Item.context), append(variants, r.Item.variants), append(pmf, r.Item.pmf)
		chosen, prob, policy = append(chosen, int32(d.Chosen)), append(prob, d.Probability), append(policy, d.PolicyVersion)
		created, deadline = append(created, d.CreatedAt), append(deadline, d.Deadline)
	}
	rows, err := db.pool.Query(ctx, `INSERT INTO decisions(experiment_id, event_id, context, variants, pmf, chosen, probability,
			policy_version, created_at, deadline)
		SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::jsonb[], $6::int4[], $7::float8[],
			$8::int8[], $9::timestamptz[], $10::timestamptz[]) AS u(e, v)
		ORDER BY e COLLATE "C", v COLLATE "C"
		ON CONFLICT (experiment_id, event_id) DO NOTHING
		RETURNING experiment_id, event_id, seq`,
		exp, event, contexts, variants, pmf, chosen, prob, policy, created, deadline)
	if err != nil {
		return nil, classify(err)
	}
	inserted := make([]bool, n)
	var (
		k   key
		seq int64
	)
	_, err = pgx.ForEachRow(rows, []any{&k.experiment, &k.event, &seq}, func() error {
		i, ok := first[k]
		if !ok {
			return lift.Errorf(lift.Internal, "the batch insert returned event %q of experiment %q, which it was not given", k.event, k.experiment)
		}
		rs[i].Item.d.Seq, inserted[i] = seq, true
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	for _, i := range first {
		if !inserted[i] {
			errs[i] = decisionConflict(rs[i].Item.d)
		}
	}
	return errs, nil
}

// insertDecision inserts one decision in a statement of its own.
func (db *DB) insertDecision(ctx context.Context, p *pendingDecision) error {
	d := p.d
	err := db.pool.QueryRow(ctx, `INSERT INTO decisions(experiment_id, event_id, context, variants, pmf, chosen, probability,
		policy_version, created_at, deadline) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING seq`,
		d.ExperimentID, d.EventID, p.context, p.variants, p.pmf, d.Chosen, d.Probability, d.PolicyVersion, d.CreatedAt, d.Deadline).Scan(&d.Seq)
	switch pgCode(err) {
	case uniqueViolation:
		return decisionConflict(d)
	case foreignKeyViolation:
		return lift.Errorf(lift.NotFound, "experiment %q not found", d.ExperimentID)
	}
	return classify(err)
}

func decisionConflict(d *lift.Decision) error {
	return lift.Errorf(lift.Conflict, "event_id %q was already decided in experiment %q", d.EventID, d.ExperimentID)
}

const joinedColumns = `d.seq, d.experiment_id, d.event_id, d.context, d.variants, d.pmf, d.chosen, d.probability, d.policy_version,
	d.created_at, d.deadline, r.seq, r.value, r.is_default, r.created_at`

func scanJoined(s pgx.Row) (*lift.Joined, error) {
	var (
		j         lift.Joined
		c, v, p   []byte
		seq       *int64
		value     *float64
		isDefault *bool
		rcreated  *time.Time
	)
	if err := s.Scan(&j.Seq, &j.ExperimentID, &j.EventID, &c, &v, &p, &j.Chosen, &j.Probability, &j.PolicyVersion,
		&j.CreatedAt, &j.Deadline, &seq, &value, &isDefault, &rcreated); err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal(c, &j.Context), json.Unmarshal(v, &j.Variants), json.Unmarshal(p, &j.PMF)); err != nil {
		return nil, err
	}
	j.CreatedAt, j.Deadline = j.CreatedAt.UTC(), j.Deadline.UTC()
	if seq != nil {
		j.Reward = &lift.Reward{Seq: *seq, ExperimentID: j.ExperimentID, EventID: j.EventID}
		if value != nil {
			j.Reward.Value = *value
		}
		if isDefault != nil {
			j.Reward.Default = *isDefault
		}
		if rcreated != nil {
			j.Reward.CreatedAt = rcreated.UTC()
		}
	}
	return &j, nil
}

func collectJoined(rows pgx.Rows) ([]*lift.Joined, error) {
	defer rows.Close()
	var out []*lift.Joined
	for rows.Next() {
		j, err := scanJoined(rows)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, j)
	}
	return out, classify(rows.Err())
}

// GetDecision implements lift.ExperimentStore.
func (db *DB) GetDecision(ctx context.Context, experimentID, eventID string) (_ *lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.GetDecision(%q)", eventID)
	j, err := scanJoined(db.pool.QueryRow(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = $1 AND d.event_id = $2`, experimentID, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "event %q not found in experiment %q", eventID, experimentID)
	}
	return j, classify(err)
}

// SaveReward implements lift.ExperimentStore. Rewards are stored in
// batches, as decisions are: every reward waiting at once goes into one
// statement (saveRewardsSQL) and one commit.
func (db *DB) SaveReward(ctx context.Context, r *lift.Reward) (existing *lift.Reward, err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveReward(%q)", r.EventID)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.Now()
	}
	p := &pendingReward{r: r}
	if err := groupcommit.SubmitUntil(ctx, db.rewards, db.stopped, errClosed, p); err != nil {
		return nil, err
	}
	return p.existing, nil
}

// pendingReward is a reward waiting for its batch; existing is set to the
// reward stored before it, if there is one.
type pendingReward struct {
	r, existing *lift.Reward
}

type rewardReq = groupcommit.Request[*pendingReward]

// maxRewardBatch bounds the rewards one statement stores.
const maxRewardBatch = 256

// saveRewards stores the rewards SaveReward queues (commitBatches).
func (db *DB) saveRewards(ctx context.Context) {
	commitBatches(ctx, db.rewards, maxRewardBatch, db.insertRewards, db.insertReward)
}

// insertRewards stores a batch of rewards in one statement and sets their
// seqs; a reward for an event that is not decided gets NotFound. A reward
// for an event that has one already (stored before, or earlier in this
// batch) goes to insertReward after the statement, which finds the stored
// one and reads it back. Any other error fails the statement, and
// commitBatches stores each reward on its own.
func (db *DB) insertRewards(ctx context.Context, rs []*rewardReq) ([]error, error) {
	if len(rs) == 1 {
		return []error{db.insertReward(ctx, rs[0].Item)}, nil
	}
	type key struct{ experiment, event string }
	n := len(rs)
	var (
		errs       = make([]error, n)
		seen       = make(map[key]bool, n)
		alone      []int // stored on their own after the statement
		exp, event = make([]string, 0, n), make([]string, 0, n)
		value      = make([]float64, 0, n)
		isDefault  = make([]bool, 0, n)
		created    = make([]time.Time, 0, n)
		ord        = make([]int32, 0, n)
	)
	for i, q := range rs {
		r := q.Item.r
		k := key{r.ExperimentID, r.EventID}
		if seen[k] {
			alone = append(alone, i)
			continue
		}
		seen[k] = true
		exp, event, value = append(exp, r.ExperimentID), append(event, r.EventID), append(value, r.Value)
		isDefault, created, ord = append(isDefault, r.Default), append(created, r.CreatedAt), append(ord, int32(i))
	}
	rows, err := db.pool.Query(ctx, saveRewardsSQL, exp, event, value, isDefault, created, ord)
	if err != nil {
		return nil, classify(err)
	}
	var (
		i     int32
		found bool
		seq   *int64
		got   int
	)
	_, err = pgx.ForEachRow(rows, []any{&i, &found, &seq}, func() error {
		if i < 0 || int(i) >= n {
			return lift.Errorf(lift.Internal, "the batch of rewards answered for caller %d of %d", i, n)
		}
		got++
		switch r := rs[i].Item.r; {
		case !found:
			errs[i] = rewardNotFound(r)
		case seq != nil:
			r.Seq = *seq
		default:
			alone = append(alone, int(i))
		}
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	if got != len(ord) {
		return nil, lift.Errorf(lift.Internal, "the batch of %d rewards answered for %d", len(ord), got)
	}
	for _, i := range alone {
		// The statement is committed: each runs in its caller's time.
		octx, cancel := context.WithTimeout(rs[i].Ctx, batchTimeout)
		errs[i] = callerErr(rs[i], db.insertReward(octx, rs[i].Item))
		cancel()
	}
	return errs, nil
}

// insertReward stores one reward in a statement of its own (saveRewardSQL)
// and, when its event has a reward already, reads that one back into
// p.existing.
func (db *DB) insertReward(ctx context.Context, p *pendingReward) error {
	r := p.r
	var (
		found int
		seq   *int64
	)
	err := db.pool.QueryRow(ctx, saveRewardSQL,
		r.ExperimentID, r.EventID, r.Value, r.Default, r.CreatedAt).Scan(&found, &seq)
	switch {
	case err != nil:
		return classify(err)
	case found == 0:
		return rewardNotFound(r)
	case seq != nil:
		r.Seq = *seq
		return nil
	}
	j, err := scanJoined(db.pool.QueryRow(ctx, `SELECT `+joinedColumns+` FROM decisions d
		JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = $1 AND d.event_id = $2`, r.ExperimentID, r.EventID))
	if err != nil {
		return classify(err)
	}
	p.existing = j.Reward
	return nil
}

func rewardNotFound(r *lift.Reward) error {
	return lift.Errorf(lift.NotFound, "event %q not found in experiment %q", r.EventID, r.ExperimentID)
}

// Rewards commit out of seq order on PostgreSQL: replicas draw seqs from
// one sequence and commit concurrently, so a reward with a lower seq can
// become visible after one with a higher seq. A policy learns rewards in
// seq order and never looks below the last seq it learnt, so it must not
// read past a seq that could still be filled in. Each experiment has a
// reward lock (a transaction-scoped advisory lock) that tells:
//
//   - saveRewardSQL (and saveRewardsSQL, for each experiment of its
//     batch) takes it in shared mode before the row's seq is drawn (the
//     decision CTE the insert reads from joins the lock's CTE) and holds
//     it until it commits or rolls back;
//   - rewardHorizonSQL reads the highest visible seq of the experiment,
//     then which transactions hold the lock. A reward with a lower seq
//     drew it before the highest visible one was drawn (the sequence
//     hands out values in call order: its cache is 1, bigserial's
//     default), so its statement held the lock when the holders were
//     read, or had finished.
//
// Once none of the transactions listed with a seq holds the lock any
// more, no reward at or below that seq can still appear: RewardedSince
// returns rewards up to there only. Nobody waits for anybody (the lock is
// never taken exclusively), and clocks play no part, so replicas' clock
// skew cannot make one skip a reward.
const (
	rewardLockPrefix = `1818846836, hashtext(current_schema() || '.lift.rewards.' || `
	rewardLockArgs   = rewardLockPrefix + `$1)`

	saveRewardSQL = `WITH lk AS (
			SELECT pg_advisory_xact_lock_shared(` + rewardLockArgs + `)
		), d AS (
			SELECT experiment_id, event_id FROM decisions, lk
			WHERE experiment_id = $1 AND event_id = $2 FOR UPDATE OF decisions
		), ins AS (
			INSERT INTO rewards(experiment_id, event_id, value, is_default, created_at)
			SELECT experiment_id, event_id, $3, $4, $5 FROM d
			ON CONFLICT (experiment_id, event_id) DO NOTHING
			RETURNING seq
		), upd AS (
			UPDATE decisions SET rewarded = true
			WHERE experiment_id = $1 AND event_id = $2 AND EXISTS (SELECT 1 FROM ins)
		)
		SELECT (SELECT COUNT(*) FROM d), (SELECT seq FROM ins)`

	// saveRewardsSQL is saveRewardSQL for a batch of rewards with distinct
	// events, given as arrays (experiment, event, value, default, time,
	// the caller's index): it takes the reward lock of every experiment
	// in the batch before drawing any seq (d reads lk), locks the
	// decisions in key order (as any other batch does: two cannot wait on
	// each other), and answers one row per reward: its index, whether its
	// decision was found, and its new seq (NULL when the event had a
	// reward already).
	saveRewardsSQL = `WITH input AS MATERIALIZED (
			SELECT e COLLATE "C" AS experiment_id, v COLLATE "C" AS event_id, value, is_default, created_at, ord
			FROM unnest($1::text[], $2::text[], $3::float8[], $4::bool[], $5::timestamptz[], $6::int4[])
				AS i(e, v, value, is_default, created_at, ord)
		), lk AS MATERIALIZED (
			SELECT COUNT(pg_advisory_xact_lock_shared(` + rewardLockPrefix + `e))) AS n
			FROM (SELECT DISTINCT experiment_id AS e FROM input ORDER BY 1) x
		), d AS (
			SELECT dc.experiment_id, dc.event_id FROM decisions dc, lk
			WHERE lk.n > 0 AND (dc.experiment_id, dc.event_id) IN (SELECT experiment_id, event_id FROM input)
			ORDER BY dc.experiment_id, dc.event_id FOR UPDATE OF dc
		), ins AS (
			INSERT INTO rewards(experiment_id, event_id, value, is_default, created_at)
			SELECT i.experiment_id, i.event_id, i.value, i.is_default, i.created_at
			FROM input i JOIN d USING (experiment_id, event_id) ORDER BY i.ord
			ON CONFLICT (experiment_id, event_id) DO NOTHING
			RETURNING experiment_id, event_id, seq
		), upd AS (
			UPDATE decisions dc SET rewarded = true FROM ins
			WHERE dc.experiment_id = ins.experiment_id AND dc.event_id = ins.event_id
		)
		SELECT i.ord, d.event_id IS NOT NULL, ins.seq FROM input i
			LEFT JOIN d USING (experiment_id, event_id) LEFT JOIN ins USING (experiment_id, event_id)`

	// The statement's snapshot (the MAX) is taken before pg_locks is read.
	rewardHorizonSQL = `SELECT (SELECT COALESCE(MAX(seq), 0) FROM rewards WHERE experiment_id = $1),
		ARRAY(SELECT virtualtransaction FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid = 1818846836 AND objid = hashtext(current_schema() || '.lift.rewards.' || $1)::oid
			AND objsubid = 2)`
)

// rewardHorizon is what RewardedSince knows of an experiment's log: every
// reward up to final is committed; up to pending, once none of holders
// holds the reward lock.
type rewardHorizon struct {
	final, pending int64
	holders        []string
}

// horizon returns the seq up to which experimentID's rewards are final.
// The lock is held across the query: a reading older than the one that
// set pending could miss holders that came later and wrongly clear it.
func (db *DB) horizon(ctx context.Context, experimentID string) (int64, error) {
	db.horizonMu.Lock()
	defer db.horizonMu.Unlock()
	var (
		top     int64
		holders []string
	)
	if err := db.pool.QueryRow(ctx, rewardHorizonSQL, experimentID).Scan(&top, &holders); err != nil {
		return 0, classify(err)
	}
	h := db.horizons[experimentID]
	if h == nil {
		h = &rewardHorizon{}
		db.horizons[experimentID] = h
	}
	if h.holders != nil && !slices.ContainsFunc(h.holders, func(v string) bool { return slices.Contains(holders, v) }) {
		h.final = max(h.final, h.pending)
		h.holders = nil
	}
	switch {
	case len(holders) == 0:
		h.final = max(h.final, top)
		h.holders = nil
	case h.holders == nil && top > h.final:
		h.pending, h.holders = top, holders
	}
	return h.final, nil
}

// ExpiredDecisions implements lift.ExperimentStore.
func (db *DB) ExpiredDecisions(ctx context.Context, now time.Time, limit int) (_ []*lift.Decision, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ExpiredDecisions")
	rows, err := db.pool.Query(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON false WHERE NOT d.rewarded AND d.deadline < $1 ORDER BY d.deadline, d.seq LIMIT $2`, now, sqlLimit(limit))
	if err != nil {
		return nil, classify(err)
	}
	js, err := collectJoined(rows)
	if err != nil {
		return nil, err
	}
	out := make([]*lift.Decision, len(js))
	for i, j := range js {
		out[i] = &j.Decision
	}
	return out, nil
}

// RewardedSince implements lift.ExperimentStore: the rewards with seq >
// after up to the experiment's horizon (see rewardHorizonSQL), which no
// later commit can add to.
func (db *DB) RewardedSince(ctx context.Context, experimentID string, after int64, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.RewardedSince(%q)", experimentID)
	final, err := db.horizon(ctx, experimentID)
	if err != nil || final <= after {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+joinedColumns+` FROM rewards r
		JOIN decisions d ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE r.experiment_id = $1 AND r.seq > $2 AND r.seq <= $3 ORDER BY r.seq LIMIT $4`, experimentID, after, final, sqlLimit(limit))
	if err != nil {
		return nil, classify(err)
	}
	return collectJoined(rows)
}

// Log implements lift.ExperimentStore.
func (db *DB) Log(ctx context.Context, experimentID string, after int64, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Log(%q)", experimentID)
	rows, err := db.pool.Query(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3`, experimentID, after, sqlLimit(limit))
	if err != nil {
		return nil, classify(err)
	}
	return collectJoined(rows)
}

// LogTail implements lift.ExperimentStore.
func (db *DB) LogTail(ctx context.Context, experimentID string, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.LogTail(%q)", experimentID)
	rows, err := db.pool.Query(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = $1 ORDER BY d.seq DESC LIMIT $2`, experimentID, sqlLimit(limit))
	if err != nil {
		return nil, classify(err)
	}
	js, err := collectJoined(rows)
	slices.Reverse(js)
	return js, err
}

// LogPrunedUpTo implements lift.ExperimentStore.
func (db *DB) LogPrunedUpTo(ctx context.Context, experimentID string) (mark int64, err error) {
	defer lift.Wrap(&err, "ExperimentStore.LogPrunedUpTo(%q)", experimentID)
	err = db.pool.QueryRow(ctx, `SELECT log_pruned_upto FROM experiments WHERE id = $1`, experimentID).Scan(&mark)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	return mark, classify(err)
}

// RecentPlays implements lift.ExperimentStore.
func (db *DB) RecentPlays(ctx context.Context, experimentID string, limit int) (_ []lift.Play, err error) {
	defer lift.Wrap(&err, "ExperimentStore.RecentPlays(%q)", experimentID)
	rows, err := db.pool.Query(ctx, `SELECT d.created_at, COALESCE(d.variants->>d.chosen, ''), r.value
		FROM decisions d LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = $1 ORDER BY d.seq DESC LIMIT $2`, experimentID, sqlLimit(limit))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []lift.Play
	for rows.Next() {
		var p lift.Play
		if err := rows.Scan(&p.At, &p.Variant, &p.Reward); err != nil {
			return nil, classify(err)
		}
		out = append(out, p)
	}
	slices.Reverse(out)
	return out, classify(rows.Err())
}

// Totals implements lift.ExperimentStore.
func (db *DB) Totals(ctx context.Context, experimentID string, after, upTo int64) (_ map[string]lift.VariantTotals, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Totals(%q)", experimentID)
	rows, err := db.pool.Query(ctx, `SELECT d.variants->>d.chosen, COUNT(*), SUM(r.value)
		FROM rewards r JOIN decisions d ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE r.experiment_id = $1 AND r.seq > $2 AND r.seq <= $3 GROUP BY 1`, experimentID, after, upTo)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := map[string]lift.VariantTotals{}
	for rows.Next() {
		var id *string
		var t lift.VariantTotals
		if err := rows.Scan(&id, &t.Trials, &t.RewardSum); err != nil {
			return nil, classify(err)
		}
		if id == nil {
			continue // chosen outside variants: no variant to credit
		}
		out[*id] = t
	}
	return out, classify(rows.Err())
}

// SaveSnapshot implements lift.ExperimentStore. A snapshot older than the
// stored one (a lower seq, from a slower replica) does not replace it.
func (db *DB) SaveSnapshot(ctx context.Context, experimentID string, snap lift.PolicySnapshot) (err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveSnapshot(%q)", experimentID)
	totals, err := lift.TotalsJSON(snap.Totals)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE experiments SET snapshot = $1, snapshot_seq = $2, snapshot_totals = $3,
			snapshot_totals_seq = CASE WHEN $3::jsonb IS NULL THEN NULL ELSE $2 END
			WHERE id = $4 AND snapshot_seq <= $2`,
			snap.State, snap.Seq, totals, experimentID)
		return err
	})
}

// Snapshot implements lift.ExperimentStore.
func (db *DB) Snapshot(ctx context.Context, experimentID string) (snap lift.PolicySnapshot, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Snapshot(%q)", experimentID)
	var totals []byte
	err = db.pool.QueryRow(ctx, `SELECT snapshot, snapshot_seq,
			CASE WHEN snapshot_totals_seq = snapshot_seq THEN snapshot_totals END
		FROM experiments WHERE id = $1`, experimentID).Scan(&snap.State, &snap.Seq, &totals)
	if errors.Is(err, pgx.ErrNoRows) {
		return snap, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	if err != nil {
		return snap, classify(err)
	}
	snap.Totals, err = lift.ParseTotalsJSON(totals)
	return snap, err
}

var _ lift.ExperimentLogPruner = (*DB)(nil)

// PruneExperimentLog implements lift.ExperimentLogPruner, walking the
// rewards by seq a chunk at a time.
func (db *DB) PruneExperimentLog(ctx context.Context, experimentID string, before time.Time) (n int64, err error) {
	defer lift.Wrap(&err, "ExperimentStore.PruneExperimentLog(%q)", experimentID)
	// The latest snapshot saved with its totals: what it covers may go.
	var covered *int64
	err = db.pool.QueryRow(ctx, `SELECT CASE WHEN snapshot_totals_seq = snapshot_seq THEN snapshot_seq END
		FROM experiments WHERE id = $1`, experimentID).Scan(&covered)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	if err != nil || covered == nil {
		return 0, classify(err)
	}
	// Each chunk is one statement: the decisions go (their rewards with
	// them, ON DELETE CASCADE) and log_pruned_upto rises together. They
	// are locked in key order first, the order a batch of rewards locks
	// them in (TestRewardBatchPruneDeadlock).
	var after int64
	for {
		var deleted, last int64
		err := db.pool.QueryRow(ctx, `WITH victims AS (
				SELECT r.event_id, r.seq FROM rewards r
				JOIN decisions d ON d.experiment_id = r.experiment_id AND d.event_id = r.event_id
				WHERE r.experiment_id = $1 AND r.seq > $2 AND r.seq <= $3 AND r.created_at < $4 AND d.created_at < $4
				ORDER BY r.seq LIMIT $5),
			locked AS (
				SELECT d.event_id, v.seq FROM decisions d JOIN victims v ON d.event_id = v.event_id
				WHERE d.experiment_id = $1 ORDER BY d.event_id FOR UPDATE OF d),
			gone AS (
				DELETE FROM decisions d USING locked v
				WHERE d.experiment_id = $1 AND d.event_id = v.event_id
				RETURNING v.seq),
			mark AS (
				UPDATE experiments SET log_pruned_upto = GREATEST(log_pruned_upto, (SELECT max(seq) FROM gone))
				WHERE id = $1 AND EXISTS (SELECT 1 FROM gone))
			SELECT count(*), COALESCE(max(seq), 0) FROM gone`,
			experimentID, after, *covered, lift.StoredTime(before), lift.PruneChunk).Scan(&deleted, &last)
		if err != nil {
			return n, classify(err)
		}
		n += deleted
		if deleted < lift.PruneChunk {
			return n, nil
		}
		after = last
	}
}
