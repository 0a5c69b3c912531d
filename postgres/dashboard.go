package postgres

import (
	"context"
	"slices"
	"time"

	"lift"
	"lift/internal/tick"
)

// The read queries behind the dashboard (httpapi's DashboardStore); the
// same answers as sqlite/dashboard.go.

// PredictionCounts counts recorded predictions by band and by the model
// version that answered (0 for the heuristic), from the counts that
// triggers keep as predictions are recorded and deleted (migration 0011):
// the folded counts and the deltas not folded yet, a few seconds' worth,
// read in one statement (one snapshot: a fold moves them at once).
func (db *DB) PredictionCounts(ctx context.Context) (_ map[lift.Band]map[int64]int64, err error) {
	defer lift.Wrap(&err, "PredictionStore.PredictionCounts")
	rows, err := db.pool.Query(ctx, `SELECT band, model_version, sum(n)::bigint FROM (
			SELECT band, model_version, n FROM prediction_counts
			UNION ALL
			SELECT band, model_version, n FROM prediction_count_deltas
		) c GROUP BY 1, 2 HAVING sum(n) <> 0`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := map[lift.Band]map[int64]int64{}
	for rows.Next() {
		var band string
		var version, n int64
		if err := rows.Scan(&band, &version, &n); err != nil {
			return nil, classify(err)
		}
		if out[lift.Band(band)] == nil {
			out[lift.Band(band)] = map[int64]int64{}
		}
		out[lift.Band(band)][version] += n
	}
	return out, classify(rows.Err())
}

// foldCountsEvery is how often a server folds the deltas of the
// prediction counts: each recorded batch appends one or a few, so a
// reader sums a few thousand rows at most.
const foldCountsEvery = 5 * time.Second

// foldCounts folds the counts' deltas every foldCountsEvery until ctx
// ends. Replicas fold concurrently without harm: a delta one has deleted
// is gone for the others.
func (db *DB) foldCounts(ctx context.Context) {
	tick.Every(ctx, foldCountsEvery, func(ctx context.Context) {
		if err := db.FoldPredictionCounts(ctx); err != nil && ctx.Err() == nil {
			if l := db.logger.Load(); l != nil {
				l.Warn("folding the prediction counts", "err", err)
			}
		}
	})
}

// FoldPredictionCounts moves the deltas that triggers append to
// prediction_count_deltas into prediction_counts (migration 0011): each
// statement deletes up to foldChunk of them and adds their sums, so
// readers see them in one table or the other. Deltas not committed yet
// stay for the next fold.
func (db *DB) FoldPredictionCounts(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "PredictionStore.FoldPredictionCounts")
	for {
		var folded int
		err := db.pool.QueryRow(ctx, `WITH d AS (
				DELETE FROM prediction_count_deltas
				WHERE ctid = ANY (ARRAY(SELECT ctid FROM prediction_count_deltas LIMIT $1))
				RETURNING model_version, band, n),
			c AS (
				INSERT INTO prediction_counts AS c (model_version, band, n)
				SELECT model_version, band, sum(n)::bigint FROM d GROUP BY 1, 2 ORDER BY 1, 2
				ON CONFLICT (model_version, band) DO UPDATE SET n = c.n + excluded.n)
			SELECT count(*) FROM d`, foldChunk).Scan(&folded)
		if err != nil || folded < foldChunk {
			return classify(err)
		}
	}
}

// foldChunk bounds the deltas one fold statement moves: a backlog (left
// while only servers of an earlier version ran, which do not fold) is
// folded in statements of bounded size.
const foldChunk = 100_000

// ClipOutcomes returns the clip's latest limit outcomes, oldest first
// (none for an unknown clip).
func (db *DB) ClipOutcomes(ctx context.Context, clipID string, limit int) (_ []*lift.Outcome, err error) {
	defer lift.Wrap(&err, "ClipStore.ClipOutcomes(%q)", clipID)
	rows, err := db.pool.Query(ctx, `SELECT id, clip_id, impressions, clicks, observed_at, COALESCE(outcome_key, '') FROM outcomes
		WHERE clip_id = $1 ORDER BY observed_at DESC, id DESC LIMIT $2`, clipID, limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*lift.Outcome
	for rows.Next() {
		var o lift.Outcome
		if err := rows.Scan(&o.ID, &o.ClipID, &o.Impressions, &o.Clicks, &o.ObservedAt, &o.Key); err != nil {
			return nil, classify(err)
		}
		o.ObservedAt = o.ObservedAt.UTC()
		out = append(out, &o)
	}
	slices.Reverse(out)
	return out, classify(rows.Err())
}

// ClipPredictions returns the clip's latest limit recorded predictions,
// newest first (none for an unknown clip).
func (db *DB) ClipPredictions(ctx context.Context, clipID string, limit int) (_ []*lift.Prediction, err error) {
	defer lift.Wrap(&err, "PredictionStore.ClipPredictions(%q)", clipID)
	// The rows stored a prediction each (before migration 0008, or by an
	// older replica during an upgrade) come through their clip index.
	// Each batch that holds the clip holds at least one of its
	// predictions, so the latest limit of them are in the latest limit
	// such batches: those are found through the GIN index on clip_ids (or
	// by walking the key backwards, as the planner prefers) and only they
	// are unpacked.
	rows, err := db.pool.Query(ctx, `(SELECT id, clip_id, model_version, source, predicted_ctr, band, confidence,
			ctr_lo, ctr_hi, created_at
		FROM predictions WHERE clip_id = $1 ORDER BY id DESC LIMIT $2)
		UNION ALL
		(SELECT b.first_id + u.ord - 1 AS id, u.clip_id, u.model_version, u.source, u.predicted_ctr, u.band,
			u.confidence, u.ctr_lo, u.ctr_hi, u.created_at
		FROM (SELECT * FROM prediction_batches WHERE clip_ids @> ARRAY[$1::text] ORDER BY first_id DESC LIMIT $2) b
		CROSS JOIN LATERAL unnest(b.clip_ids, b.model_versions, b.sources, b.predicted_ctrs, b.bands, b.confidences,
			b.ctr_los, b.ctr_his, b.created_ats)
			WITH ORDINALITY AS u(clip_id, model_version, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at, ord)
		WHERE u.clip_id = $1)
		ORDER BY id DESC LIMIT $2`, clipID, limit)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*lift.Prediction
	for rows.Next() {
		var p lift.Prediction
		var clip, band string
		if err := rows.Scan(&p.ID, &clip, &p.ModelVersion, &p.Source, &p.PredictedCTR, &band, &p.Confidence,
			&p.Interval[0], &p.Interval[1], &p.CreatedAt); err != nil {
			return nil, classify(err)
		}
		p.ClipID, p.Band, p.CreatedAt = &clip, lift.Band(band), p.CreatedAt.UTC()
		out = append(out, &p)
	}
	return out, classify(rows.Err())
}
