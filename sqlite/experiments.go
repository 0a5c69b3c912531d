package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"lift"
)

var _ lift.ExperimentStore = (*DB)(nil)

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
	return db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO experiments(id, definition, created_at) VALUES (?,?,?)`, e.ID, def, formatTime(e.CreatedAt))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return lift.Errorf(lift.Conflict, "experiment %q already exists", e.ID)
		}
		return err
	})
}

// ModifyExperiment implements lift.ExperimentStore: the writer's
// transaction reads and writes, and no other write interleaves.
func (db *DB) ModifyExperiment(ctx context.Context, id string, change func(*lift.Experiment) error) (_ *lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ModifyExperiment(%q)", id)
	var out *lift.Experiment
	err = db.tx(ctx, func(tx *wtx) error {
		var def []byte
		err := tx.QueryRowContext(ctx, `SELECT definition FROM experiments WHERE id = ?`, id).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return lift.Errorf(lift.NotFound, "experiment %q not found", id)
		}
		if err != nil {
			return err
		}
		e, b, err := lift.ChangedDefinition(def, change)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE experiments SET definition = ? WHERE id = ?`, b, id); err != nil {
			return err
		}
		out = e
		return nil
	})
	return out, err
}

// GetExperiment implements lift.ExperimentStore.
func (db *DB) GetExperiment(ctx context.Context, id string) (_ *lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.GetExperiment(%q)", id)
	var def string
	err = db.read.QueryRowContext(ctx, `SELECT definition FROM experiments WHERE id = ?`, id).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "experiment %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	var e lift.Experiment
	return &e, json.Unmarshal([]byte(def), &e)
}

// ListExperiments implements lift.ExperimentStore.
func (db *DB) ListExperiments(ctx context.Context) (_ []*lift.Experiment, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ListExperiments")
	rows, err := db.read.QueryContext(ctx, `SELECT definition FROM experiments ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lift.Experiment
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			return nil, err
		}
		var e lift.Experiment
		if err := json.Unmarshal([]byte(def), &e); err != nil {
			return nil, err
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}

// SaveDecision implements lift.ExperimentStore.
func (db *DB) SaveDecision(ctx context.Context, d *lift.Decision) (err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveDecision(%q)", d.EventID)
	c, _ := json.Marshal(d.Context)
	v, _ := json.Marshal(d.Variants)
	p, _ := json.Marshal(d.PMF)
	return db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO decisions(experiment_id, event_id, context, variants, pmf, chosen, probability,
			policy_version, created_at, deadline) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			d.ExperimentID, d.EventID, c, v, p, d.Chosen, d.Probability, d.PolicyVersion, formatTime(d.CreatedAt), formatTime(d.Deadline))
		switch {
		case err != nil && strings.Contains(err.Error(), "UNIQUE"):
			return lift.Errorf(lift.Conflict, "event_id %q was already decided in experiment %q", d.EventID, d.ExperimentID)
		case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
			return lift.Errorf(lift.NotFound, "experiment %q not found", d.ExperimentID)
		case err != nil:
			return err
		}
		d.Seq, err = res.LastInsertId()
		return err
	})
}

const joinedColumns = `d.rowid, d.experiment_id, d.event_id, d.context, d.variants, d.pmf, d.chosen, d.probability, d.policy_version,
	d.created_at, d.deadline, r.seq, r.value, r.is_default, r.created_at`

func scanJoined(s scanner) (*lift.Joined, error) {
	var (
		j                          lift.Joined
		c, v, p, created, deadline string
		seq                        sql.NullInt64
		value                      sql.NullFloat64
		isDefault                  sql.NullBool
		rcreated                   sql.NullString
	)
	if err := s.Scan(&j.Seq, &j.ExperimentID, &j.EventID, &c, &v, &p, &j.Chosen, &j.Probability, &j.PolicyVersion,
		&created, &deadline, &seq, &value, &isDefault, &rcreated); err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(c), &j.Context), json.Unmarshal([]byte(v), &j.Variants),
		json.Unmarshal([]byte(p), &j.PMF)); err != nil {
		return nil, err
	}
	j.CreatedAt, j.Deadline = parseTime(created), parseTime(deadline)
	if seq.Valid {
		j.Reward = &lift.Reward{Seq: seq.Int64, ExperimentID: j.ExperimentID, EventID: j.EventID,
			Value: value.Float64, Default: isDefault.Bool, CreatedAt: parseTime(rcreated.String)}
	}
	return &j, nil
}

// GetDecision implements lift.ExperimentStore.
func (db *DB) GetDecision(ctx context.Context, experimentID, eventID string) (_ *lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.GetDecision(%q)", eventID)
	j, err := scanJoined(db.read.QueryRowContext(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = ? AND d.event_id = ?`, experimentID, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "event %q not found in experiment %q", eventID, experimentID)
	}
	return j, err
}

// SaveReward implements lift.ExperimentStore. The common case is one
// flag flip and one insert in the single writer; only when the flag was
// already set (or no decision exists) does it look further.
func (db *DB) SaveReward(ctx context.Context, r *lift.Reward) (existing *lift.Reward, err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveReward(%q)", r.EventID)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.Now()
	}
	err = db.tx(ctx, func(tx *wtx) error {
		existing = nil
		res, err := tx.ExecContext(ctx, `UPDATE decisions SET rewarded = 1 WHERE experiment_id = ? AND event_id = ? AND rewarded = 0`,
			r.ExperimentID, r.EventID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return tx.QueryRowContext(ctx, `INSERT INTO rewards(experiment_id, event_id, value, is_default, created_at) VALUES (?,?,?,?,?) RETURNING seq`,
				r.ExperimentID, r.EventID, r.Value, r.Default, formatTime(r.CreatedAt)).Scan(&r.Seq)
		}
		var e lift.Reward
		var created string
		err = tx.QueryRowContext(ctx, `SELECT seq, value, is_default, created_at FROM rewards WHERE experiment_id = ? AND event_id = ?`,
			r.ExperimentID, r.EventID).Scan(&e.Seq, &e.Value, &e.Default, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return lift.Errorf(lift.NotFound, "event %q not found in experiment %q", r.EventID, r.ExperimentID)
		}
		if err != nil {
			return err
		}
		e.ExperimentID, e.EventID, e.CreatedAt = r.ExperimentID, r.EventID, parseTime(created)
		existing = &e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// ExpiredDecisions implements lift.ExperimentStore.
func (db *DB) ExpiredDecisions(ctx context.Context, now time.Time, limit int) (_ []*lift.Decision, err error) {
	defer lift.Wrap(&err, "ExperimentStore.ExpiredDecisions")
	rows, err := db.read.QueryContext(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON 0 WHERE d.rewarded = 0 AND d.deadline < ? ORDER BY d.deadline LIMIT ?`, formatTime(now), limit)
	if err != nil {
		return nil, err
	}
	js, err := collectJoined(rows)
	out := make([]*lift.Decision, len(js))
	for i, j := range js {
		out[i] = &j.Decision
	}
	return out, err
}

func collectJoined(rows *sql.Rows) ([]*lift.Joined, error) {
	defer rows.Close()
	var out []*lift.Joined
	for rows.Next() {
		j, err := scanJoined(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// RewardedSince implements lift.ExperimentStore.
func (db *DB) RewardedSince(ctx context.Context, experimentID string, after int64, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.RewardedSince(%q)", experimentID)
	rows, err := db.read.QueryContext(ctx, `SELECT `+joinedColumns+` FROM rewards r
		JOIN decisions d ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE r.experiment_id = ? AND r.seq > ? ORDER BY r.seq LIMIT ?`, experimentID, after, limit)
	if err != nil {
		return nil, err
	}
	return collectJoined(rows)
}

// Log implements lift.ExperimentStore.
func (db *DB) Log(ctx context.Context, experimentID string, after int64, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Log(%q)", experimentID)
	rows, err := db.read.QueryContext(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = ? AND d.rowid > ? ORDER BY d.rowid LIMIT ?`, experimentID, after, limit)
	if err != nil {
		return nil, err
	}
	return collectJoined(rows)
}

// LogTail implements lift.ExperimentStore.
func (db *DB) LogTail(ctx context.Context, experimentID string, limit int) (_ []*lift.Joined, err error) {
	defer lift.Wrap(&err, "ExperimentStore.LogTail(%q)", experimentID)
	rows, err := db.read.QueryContext(ctx, `SELECT `+joinedColumns+` FROM decisions d
		LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = ? ORDER BY d.rowid DESC LIMIT ?`, experimentID, limit)
	if err != nil {
		return nil, err
	}
	js, err := collectJoined(rows)
	slices.Reverse(js)
	return js, err
}

// LogPrunedUpTo implements lift.ExperimentStore.
func (db *DB) LogPrunedUpTo(ctx context.Context, experimentID string) (mark int64, err error) {
	defer lift.Wrap(&err, "ExperimentStore.LogPrunedUpTo(%q)", experimentID)
	err = db.read.QueryRowContext(ctx, `SELECT log_pruned_upto FROM experiments WHERE id = ?`, experimentID).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	return mark, err
}

// RecentPlays implements lift.ExperimentStore.
func (db *DB) RecentPlays(ctx context.Context, experimentID string, limit int) (_ []lift.Play, err error) {
	defer lift.Wrap(&err, "ExperimentStore.RecentPlays(%q)", experimentID)
	rows, err := db.read.QueryContext(ctx, `SELECT d.created_at, COALESCE(json_extract(d.variants, '$[' || d.chosen || ']'), ''), r.value
		FROM decisions d LEFT JOIN rewards r ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE d.experiment_id = ? ORDER BY d.rowid DESC LIMIT ?`, experimentID, limit)
	if err != nil {
		return nil, err
	}
	type play struct {
		at      string
		variant string
		reward  *float64
	}
	ps, err := scanAll(rows, func(p *play) []any { return []any{&p.at, &p.variant, &p.reward} })
	out := make([]lift.Play, len(ps))
	for i, p := range ps {
		out[len(ps)-1-i] = lift.Play{At: parseTime(p.at), Variant: p.variant, Reward: p.reward}
	}
	return out, err
}

// Totals implements lift.ExperimentStore.
func (db *DB) Totals(ctx context.Context, experimentID string, after, upTo int64) (_ map[string]lift.VariantTotals, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Totals(%q)", experimentID)
	rows, err := db.read.QueryContext(ctx, `SELECT json_extract(d.variants, '$[' || d.chosen || ']'), COUNT(*), SUM(r.value)
		FROM rewards r JOIN decisions d ON r.experiment_id = d.experiment_id AND r.event_id = d.event_id
		WHERE r.experiment_id = ? AND r.seq > ? AND r.seq <= ? GROUP BY 1`, experimentID, after, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]lift.VariantTotals{}
	for rows.Next() {
		var id string
		var t lift.VariantTotals
		if err := rows.Scan(&id, &t.Trials, &t.RewardSum); err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, rows.Err()
}

// SaveSnapshot implements lift.ExperimentStore.
func (db *DB) SaveSnapshot(ctx context.Context, experimentID string, snap lift.PolicySnapshot) (err error) {
	defer lift.Wrap(&err, "ExperimentStore.SaveSnapshot(%q)", experimentID)
	totals, err := lift.TotalsJSON(snap.Totals)
	if err != nil {
		return err
	}
	var totalsText, totalsSeq any // NULL without totals
	if totals != nil {
		totalsText, totalsSeq = string(totals), snap.Seq
	}
	return db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE experiments SET snapshot = ?, snapshot_seq = ?, snapshot_totals = ?, snapshot_totals_seq = ?
			WHERE id = ? AND snapshot_seq <= ?`,
			snap.State, snap.Seq, totalsText, totalsSeq, experimentID, snap.Seq)
		return err
	})
}

// Snapshot implements lift.ExperimentStore.
func (db *DB) Snapshot(ctx context.Context, experimentID string) (snap lift.PolicySnapshot, err error) {
	defer lift.Wrap(&err, "ExperimentStore.Snapshot(%q)", experimentID)
	var totals sql.NullString
	err = db.read.QueryRowContext(ctx, `SELECT snapshot, snapshot_seq,
			CASE WHEN snapshot_totals_seq = snapshot_seq THEN snapshot_totals END
		FROM experiments WHERE id = ?`, experimentID).Scan(&snap.State, &snap.Seq, &totals)
	if errors.Is(err, sql.ErrNoRows) {
		return snap, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	if err != nil || !totals.Valid {
		return snap, err
	}
	snap.Totals, err = lift.ParseTotalsJSON([]byte(totals.String))
	return snap, err
}

var _ lift.ExperimentLogPruner = (*DB)(nil)

// PruneExperimentLog implements lift.ExperimentLogPruner, taking the
// writer a chunk at a time between the traffic's group commits, walking
// the rewards by seq; each chunk deletes rewards and decisions and raises
// log_pruned_upto in one transaction. The newest reward and the newest
// decision are never deleted: SQLite gives a new row the largest rowid
// plus one, and would hand out a seq already learnt (or a decision seq
// already paged past) again.
func (db *DB) PruneExperimentLog(ctx context.Context, experimentID string, before time.Time) (n int64, err error) {
	defer lift.Wrap(&err, "ExperimentStore.PruneExperimentLog(%q)", experimentID)
	// The latest snapshot saved with its totals: what it covers may go.
	var covered sql.NullInt64
	err = db.read.QueryRowContext(ctx, `SELECT CASE WHEN snapshot_totals_seq = snapshot_seq THEN snapshot_seq END
		FROM experiments WHERE id = ?`, experimentID).Scan(&covered)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, lift.Errorf(lift.NotFound, "experiment %q not found", experimentID)
	}
	if err != nil || !covered.Valid {
		return 0, err
	}
	cut := formatTime(before)
	return db.pruneInChunks(ctx, func(tx *wtx, after int64) (deleted, last int64, err error) {
		rows, err := tx.conn.QueryContext(ctx, `SELECT r.seq, r.event_id FROM rewards r
			JOIN decisions d ON d.experiment_id = r.experiment_id AND d.event_id = r.event_id
			WHERE r.experiment_id = ? AND r.seq > ? AND r.seq <= ? AND r.created_at < ? AND d.created_at < ?
				AND r.seq < (SELECT MAX(seq) FROM rewards) AND d.rowid < (SELECT MAX(rowid) FROM decisions)
			ORDER BY r.seq LIMIT ?`, experimentID, after, covered.Int64, cut, cut, lift.PruneChunk)
		if err != nil {
			return 0, 0, err
		}
		type victim struct {
			seq   int64
			event string
		}
		vs, err := scanAll(rows, func(v *victim) []any { return []any{&v.seq, &v.event} })
		if err != nil || len(vs) == 0 {
			return 0, after, err
		}
		for _, v := range vs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM rewards WHERE seq = ?`, v.seq); err != nil {
				return 0, 0, err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM decisions WHERE experiment_id = ? AND event_id = ?`, experimentID, v.event); err != nil {
				return 0, 0, err
			}
		}
		last = vs[len(vs)-1].seq
		_, err = tx.ExecContext(ctx, `UPDATE experiments SET log_pruned_upto = MAX(log_pruned_upto, ?) WHERE id = ?`, last, experimentID)
		return int64(len(vs)), last, err
	})
}
