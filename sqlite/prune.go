package sqlite

import (
	"context"
	"database/sql"
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
	return db.pruneInChunks(ctx, func(tx *wtx, after int64) (deleted, last int64, err error) {
		if after >= upto {
			return 0, after, nil
		}
		rows, err := tx.conn.QueryContext(ctx, `SELECT id, clip_id FROM predictions
			WHERE id > ? AND id <= ? AND created_at < ? AND id <= `+indexedUptoSQL+`
				AND id < (SELECT MAX(id) FROM predictions)
			ORDER BY id LIMIT ?`, after, upto, cut, lift.PruneChunk)
		if err != nil {
			return 0, 0, err
		}
		type victim struct {
			id   int64
			clip *string
		}
		vs, err := scanAll(rows, func(v *victim) []any { return []any{&v.id, &v.clip} })
		if err != nil || len(vs) == 0 {
			return 0, after, err
		}
		for _, v := range vs {
			if v.clip != nil {
				if _, err := tx.ExecContext(ctx, `DELETE FROM prediction_clip_index WHERE clip_id = ? AND id = ?`, *v.clip, v.id); err != nil {
					return 0, 0, err
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM predictions WHERE id = ?`, v.id); err != nil {
				return 0, 0, err
			}
		}
		return int64(len(vs)), vs[len(vs)-1].id, nil
	})
}

// pruneInChunks runs chunk in transactions of the writer's, a chunk at a
// time between the traffic's group commits, each from the key the one
// before stopped at (chunk returns it with what it deleted: walking the
// key on, no chunk scans the dead rows of those before it), until one
// deletes fewer than lift.PruneChunk rows; it returns what they deleted.
// Each chunk commits on its own: on an error, what was deleted stays so.
func (db *DB) pruneInChunks(ctx context.Context, chunk func(tx *wtx, after int64) (deleted, last int64, err error)) (n int64, err error) {
	var after int64
	for {
		var deleted, last int64
		err := db.tx(ctx, func(tx *wtx) error {
			var err error
			deleted, last, err = chunk(tx, after) // a rerun starts again from after
			return err
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

// scanAll reads every row into a T, whose fields fields names in the
// row's column order, and closes rows.
func scanAll[T any](rows *sql.Rows, fields func(*T) []any) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(fields(&v)...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
