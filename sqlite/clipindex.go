package sqlite

import (
	"context"
	"log/slog"
)

// The per-clip index of predictions (migration 0006). Indexing each
// prediction as it was inserted wrote one random index leaf per
// prediction in every group commit; merging the tail of the table every
// indexEvery predictions, sorted by clip, writes each touched leaf once
// per merge instead (once per clip at most). Reads combine the index
// with a scan of the unmerged tail, which indexEvery bounds.

// indexEvery is how many unindexed predictions trigger a merge. A merge
// of this many rows holds the writer for a few milliseconds.
const indexEvery = 2048

// maybeIndexClips merges the unindexed tail into prediction_clip_index
// when it has grown to indexEvery, or when idle is set and it is not
// empty. It runs on the writer goroutine, between group commits. The
// merge is derived data: a crash that loses it loses indexed_upto with
// it, and the next merge redoes the work, so it needs no sync of its own.
func (db *DB) maybeIndexClips(idle bool) {
	if db.lastPred == 0 || db.lastPred <= db.indexedUpto || (!idle && db.lastPred-db.indexedUpto < indexEvery) ||
		db.syncBroken.Load() != nil {
		return
	}
	ctx := context.Background()
	var upto int64
	err := db.runTx(func(tx *wtx) error {
		// The table, not memory, says where the index ends: another
		// process on the same file may have merged meanwhile.
		var from int64
		if err := tx.QueryRowContext(ctx, `SELECT indexed_upto FROM prediction_index_state`).Scan(&from); err != nil {
			return err
		}
		upto = max(from, tx.lastPred)
		if _, err := tx.ExecContext(ctx, `INSERT INTO prediction_clip_index(clip_id, id)
			SELECT clip_id, id FROM predictions WHERE id > ? AND id <= ? AND clip_id IS NOT NULL ORDER BY clip_id, id`,
			from, upto); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE prediction_index_state SET indexed_upto = ?`, upto)
		return err
	})
	if err != nil {
		slog.Error("sqlite: merging the per-clip index of predictions", "err", err)
		return
	}
	db.indexedUpto = upto
}

// clipPredictionsSQL lists a clip's predictions newest first, up to id
// ?2: the unmerged tail scanned by id, then the index. Each arm yields
// its rows in id order, so SQLite merges the two and stops at the limit
// without sorting the clip's history.
const clipPredictionsSQL = `
	SELECT id, clip_id, model_version, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at
	FROM predictions
	WHERE id > (SELECT indexed_upto FROM prediction_index_state) AND id <= ?2 AND clip_id = ?1
	UNION ALL
	SELECT x.id, x.clip_id, p.model_version, p.source, p.predicted_ctr, p.band, p.confidence, p.ctr_lo, p.ctr_hi, p.created_at
	FROM prediction_clip_index x JOIN predictions p ON p.id = x.id
	WHERE x.clip_id = ?1 AND x.id <= (SELECT indexed_upto FROM prediction_index_state) AND x.id <= ?2
	ORDER BY 1 DESC LIMIT ?3`

// countClipPredictionsSQL counts a clip's predictions up to id ?2 the
// same way.
const countClipPredictionsSQL = `SELECT
	(SELECT COUNT(*) FROM prediction_clip_index
		WHERE clip_id = ?1 AND id <= (SELECT indexed_upto FROM prediction_index_state) AND id <= ?2)
	+ (SELECT COUNT(*) FROM predictions
		WHERE id > (SELECT indexed_upto FROM prediction_index_state) AND id <= ?2 AND clip_id = ?1)`
