package sqlite

import (
	"context"
	"database/sql"
	"maps"
	"slices"

	"lift"
)

// The read queries behind the dashboard (httpapi's DashboardStore).

// PredictionCounts counts recorded predictions by band and by the model
// version that answered (0 for the heuristic): prediction_counts, which
// counts them up to counted_upto (migration 0012), plus those after it up
// to the last synced prediction, less those it counts that are not synced
// yet (a merge may take them in before their sync); one statement, one
// snapshot of the file.
func (db *DB) PredictionCounts(ctx context.Context) (_ map[lift.Band]map[int64]int64, err error) {
	defer lift.Wrap(&err, "PredictionStore.PredictionCounts")
	const counted = `(SELECT counted_upto FROM prediction_index_state)`
	rows, err := db.read.QueryContext(ctx, `SELECT band, model_version, n FROM prediction_counts
		UNION ALL
		SELECT band, COALESCE(model_version, 0), COUNT(*) FROM predictions
		WHERE id > `+counted+` AND id <= ?1 GROUP BY band, model_version
		UNION ALL
		SELECT band, COALESCE(model_version, 0), -COUNT(*) FROM predictions
		WHERE id > ?1 AND id <= `+counted+` GROUP BY band, model_version`, db.durablePred.Load())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[lift.Band]map[int64]int64{}
	for rows.Next() {
		var band string
		var version, n int64
		if err := rows.Scan(&band, &version, &n); err != nil {
			return nil, err
		}
		if out[lift.Band(band)] == nil {
			out[lift.Band(band)] = map[int64]int64{}
		}
		out[lift.Band(band)][version] += n
	}
	for band, byVersion := range out {
		maps.DeleteFunc(byVersion, func(_ int64, n int64) bool { return n == 0 })
		if len(byVersion) == 0 {
			delete(out, band)
		}
	}
	return out, rows.Err()
}

// ClipOutcomes returns the clip's latest limit outcomes, oldest first
// (none for an unknown clip).
func (db *DB) ClipOutcomes(ctx context.Context, clipID string, limit int) (_ []*lift.Outcome, err error) {
	defer lift.Wrap(&err, "ClipStore.ClipOutcomes(%q)", clipID)
	rows, err := db.read.QueryContext(ctx, `SELECT id, clip_id, impressions, clicks, observed_at, COALESCE(outcome_key, '') FROM outcomes
		WHERE clip_id = ? ORDER BY observed_at DESC, id DESC LIMIT ?`, clipID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lift.Outcome
	for rows.Next() {
		var o lift.Outcome
		var at string
		if err := rows.Scan(&o.ID, &o.ClipID, &o.Impressions, &o.Clicks, &at, &o.Key); err != nil {
			return nil, err
		}
		o.ObservedAt = parseTime(at)
		out = append(out, &o)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// ClipPredictions returns the clip's latest limit recorded predictions,
// newest first (none for an unknown clip).
func (db *DB) ClipPredictions(ctx context.Context, clipID string, limit int) (_ []*lift.Prediction, err error) {
	defer lift.Wrap(&err, "PredictionStore.ClipPredictions(%q)", clipID)
	rows, err := db.read.QueryContext(ctx, clipPredictionsSQL, clipID, db.durablePred.Load(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lift.Prediction
	for rows.Next() {
		var p lift.Prediction
		var clip string
		var version sql.NullInt64
		var band, at string
		if err := rows.Scan(&p.ID, &clip, &version, &p.Source, &p.PredictedCTR, &band, &p.Confidence,
			&p.Interval[0], &p.Interval[1], &at); err != nil {
			return nil, err
		}
		p.ClipID, p.Band, p.CreatedAt = &clip, lift.Band(band), parseTime(at)
		if version.Valid {
			p.ModelVersion = &version.Int64
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}
