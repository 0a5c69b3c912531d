package sqlite

import (
	"context"
	"time"

	"lift"
)

var _ lift.PredictionPruner = (*DB)(nil)

// PrunePredictions implements lift.PredictionPruner, taking the writer a
// chunk at a time between the traffic's group commits. Only predictions
// already in the per-clip index (id <= indexed_upto) are deleted, with
// their index entries in the same transaction: the writer plans index
// merges of the newer ones from memory (clipindex.go), which a deleted
// row would send back into the index, and the reads count index entries
// without joining the table.
func (db *DB) PrunePredictions(ctx context.Context, before time.Time) (n int64, err error) {
	defer lift.Wrap(&err, "PredictionStore.PrunePredictions")
	cut := formatTime(before)
	var after int64 // each chunk walks the key on from the last one
	for {
		var deleted, last int64
		err := db.tx(ctx, func(tx *wtx) error {
			deleted, last = 0, after // a rerun of f starts again
			rows, err := tx.conn.QueryContext(ctx, `SELECT id, clip_id FROM predictions
				WHERE id > ? AND created_at < ? AND id <= `+indexedUptoSQL+` ORDER BY id LIMIT ?`, after, cut, lift.PruneChunk)
			if err != nil {
				return err
			}
			type victim struct {
				id   int64
				clip *string
			}
			var vs []victim
			for rows.Next() {
				var v victim
				if err := rows.Scan(&v.id, &v.clip); err != nil {
					rows.Close()
					return err
				}
				vs = append(vs, v)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, v := range vs {
				if v.clip != nil {
					if _, err := tx.ExecContext(ctx, `DELETE FROM prediction_clip_index WHERE clip_id = ? AND id = ?`, *v.clip, v.id); err != nil {
						return err
					}
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM predictions WHERE id = ?`, v.id); err != nil {
					return err
				}
			}
			deleted = int64(len(vs))
			if len(vs) > 0 {
				last = vs[len(vs)-1].id
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += deleted
		if deleted < lift.PruneChunk {
			return n, nil
		}
		after = last
	}
}
