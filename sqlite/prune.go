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
// without joining the table. The newest prediction is never deleted:
// SQLite gives a new row the largest rowid plus one, and with the table's
// last row gone it would hand out ids already answered to clients again,
// below indexed_upto, where the index would never get them.
func (db *DB) PrunePredictions(ctx context.Context, before time.Time) (n int64, err error) {
	defer lift.Wrap(&err, "PredictionStore.PrunePredictions")
	cut := formatTime(before)
	// The last id made before the cut, read without the writer (a scan of
	// the table): the chunks then walk the ids up to it and no further,
	// instead of scanning every newer row with the writer held.
	var upto int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM predictions WHERE created_at < ?`, cut).Scan(&upto); err != nil {
		return 0, err
	}
	var after int64 // each chunk walks the key on from the last one
	for after < upto {
		var deleted, last int64
		err := db.tx(ctx, func(tx *wtx) error {
			deleted, last = 0, after // a rerun of f starts again
			rows, err := tx.conn.QueryContext(ctx, `SELECT id, clip_id FROM predictions
				WHERE id > ? AND id <= ? AND created_at < ? AND id <= `+indexedUptoSQL+`
					AND id < (SELECT MAX(id) FROM predictions)
				ORDER BY id LIMIT ?`, after, upto, cut, lift.PruneChunk)
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
	return n, nil
}
