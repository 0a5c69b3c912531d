package postgres

import (
	"context"
	"time"

	"lift"
)

var _ lift.PredictionPruner = (*DB)(nil)

// PrunePredictions implements lift.PredictionPruner: the rows stored a
// prediction each (before migration 0008, or by an older replica), then
// the batches whose predictions are all older than before. A batch's
// predictions are made within a few milliseconds of each other, so one
// that straddles before is kept whole.
func (db *DB) PrunePredictions(ctx context.Context, before time.Time) (n int64, err error) {
	defer lift.Wrap(&err, "PredictionStore.PrunePredictions")
	// Each chunk walks the key on from where the last one stopped: a scan
	// from the start would pass the dead rows of every chunk before it.
	var after int64 = -1
	for {
		var rows, last int64
		err := db.pool.QueryRow(ctx, `WITH d AS (
				DELETE FROM predictions WHERE id IN (
					SELECT id FROM predictions WHERE id > $3 AND created_at < $1 ORDER BY id LIMIT $2)
				RETURNING id)
			SELECT count(*), COALESCE(max(id), 0) FROM d`, before, lift.PruneChunk, after).Scan(&rows, &last)
		if err != nil {
			return n, classify(err)
		}
		n += rows
		if rows < lift.PruneChunk {
			break
		}
		after = last
	}
	after = -1
	for {
		var batches, preds, last int64
		err := db.pool.QueryRow(ctx, `WITH d AS (
				DELETE FROM prediction_batches WHERE first_id IN (
					SELECT first_id FROM prediction_batches b
					WHERE first_id > $3 AND (SELECT max(t) FROM unnest(b.created_ats) t) < $1
					ORDER BY first_id LIMIT $2)
				RETURNING first_id, cardinality(clip_ids) AS k)
			SELECT count(*), COALESCE(sum(k), 0), COALESCE(max(first_id), 0) FROM d`, before, lift.PruneChunk, after).Scan(&batches, &preds, &last)
		if err != nil {
			return n, classify(err)
		}
		n += preds
		if batches < lift.PruneChunk {
			return n, nil
		}
		after = last
	}
}
