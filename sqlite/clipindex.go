package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"log/slog"
	"maps"
	"slices"
)

// The per-clip index of predictions (migrations 0006 and 0007). Indexing
// each prediction as it was inserted wrote one random index leaf per
// prediction in every group commit; merging the tail of the table every
// indexEvery predictions, sorted by clip, writes each touched leaf once
// per merge instead (once per clip at most). Reads combine the index
// with a scan of the unmerged tail, which indexEvery bounds (plus what
// arrives while a merge runs).
//
// A merge goes a few clips at a time, in clip order: merging 2,048
// predictions at once held the writer for ~5 ms, which every write
// arriving meanwhile waited for (most of SQLite's p99 under load). Under
// load the steps run inside the transaction the writer holds open while
// the syncer is busy (see holdPredictions), time it would otherwise spend
// waiting. The table says how far a merge has gone: clips below
// merged_below are in the index up to merging_upto, the others up to
// indexed_upto; reads use the index up to indexed_upto only, until the
// merge is done.

// defaultIndexEvery is how many unindexed predictions start a merge
// (DB.indexEvery; tests set fewer). A merge writes each index leaf it
// touches once, so what it saves grows with the predictions each clip
// gets in the window. With 2,048 that was a handful (~7 for the HTTP
// bench's 300 clips, fewer than one for a catalogue of thousands), so
// merges still wrote about one leaf (4 KB to the WAL, and again at the
// checkpoint) per few predictions: with 32,768 a sync carries 2.8 WAL
// frames instead of 6.8, and predictions/s under load rose ~8-15%
// (docs/BENCHMARKS-http.md). The price is on reads of one clip's
// predictions (the dashboard), which scan the unmerged tail: ~2-3 ms at
// 25,000 rows, proportionally more at the ~35,000 it reaches under
// full load.
const defaultIndexEvery = 32768

// mergeStepRows is the least a merge step takes: whole clips, until it
// has this many predictions (a step of 64 costs ~0.2 ms).
const mergeStepRows = 64

// mergePlan is the merge this writer is carrying out: the predictions
// with ids in (from, upto] sorted by clip, of which those from next on
// are not merged yet; below is merged_below as the table should have it.
type mergePlan struct {
	from, upto int64
	below      string
	pairs      []clipPrediction
	next       int
	// counts are the predictions of (from, upto] by model version and
	// band, when the plan was made from db.tail; nil when they are to be
	// counted from the table as the merge ends.
	counts map[bandCount]int64
}

type clipPrediction struct {
	clip string
	id   int64
	// noClip marks a prediction made from inline features (in db.tail
	// only: it has no place in the index).
	noClip bool
	// count is what prediction_counts counts it under (in db.tail only).
	count bandCount
}

// bandCount is a row of prediction_counts: a model version (0 for the
// heuristic) and a band.
type bandCount struct {
	version int64
	band    string
}

// mergeDue reports whether a merge is under way or should start: the tail
// has grown to indexEvery, or, when idle is set, is not empty. The table
// has the last word (see mergeStep); this is the writer's view of it.
func (db *DB) mergeDue(idle bool) bool {
	if db.syncBroken.Load() != nil {
		return false
	}
	return db.merge != nil || (db.lastPred > db.indexedUpto && (idle || db.lastPred-db.indexedUpto >= db.indexEvery))
}

// maybeIndexClips runs merge steps in transactions of their own, when no
// transaction is held: one step, or, when idle is set (the writer has
// nothing else to do), steps until the merge is done. A step is derived
// data: a crash that loses it loses its progress with it, and the merge
// resumes from the table's state, so it needs no sync of its own.
func (db *DB) maybeIndexClips(idle bool) {
	if db.held != nil || !db.mergeDue(idle) {
		return
	}
	for {
		var done bool
		err := db.runTx(func(tx *wtx) error {
			var err error
			done, err = db.mergeStep(tx, idle)
			return err
		})
		if err != nil {
			db.merge = nil
			slog.Error("sqlite: merging the per-clip index of predictions", "err", err)
			return
		}
		if done || !idle {
			return
		}
	}
}

// mergeHeld runs one merge step inside the held transaction, under a
// savepoint: a failed step is undone without touching the predictions
// the transaction holds.
func (db *DB) mergeHeld(tx *wtx) {
	ctx := context.Background()
	if _, err := tx.ExecContext(ctx, `SAVEPOINT merge_step`); err != nil {
		return
	}
	err := protect("merge step", func() error {
		_, err := db.mergeStep(tx, false)
		return err
	})
	if err != nil {
		db.merge = nil
		tx.ExecContext(ctx, `ROLLBACK TO merge_step`)
		slog.Error("sqlite: merging the per-clip index of predictions", "err", err)
	}
	tx.ExecContext(ctx, `RELEASE merge_step`)
}

// mergeStep merges the next clips of the merge under way in tx, starting
// one first if none is and one is due (see mergeDue), and reports whether
// no merge is left under way. The plan in memory is checked against the
// table, which another process on the same file, a restart or a rolled
// back transaction may have left elsewhere; then it is made again from
// the table.
func (db *DB) mergeStep(tx *wtx, idle bool) (done bool, err error) {
	ctx := context.Background()
	var (
		indexed, merging int64
		below            sql.NullString
	)
	if err := tx.QueryRowContext(ctx, `SELECT indexed_upto, merging_upto, merged_below FROM prediction_index_state`).
		Scan(&indexed, &merging, &below); err != nil {
		return false, err
	}
	p := db.merge
	switch {
	case !below.Valid:
		db.indexedUpto = indexed
		db.trimTail(indexed) // another process may have merged
		// Only committed predictions: the tail this transaction adds may
		// yet be rolled back.
		upto := db.lastPred
		if upto <= indexed || (!idle && upto-indexed < db.indexEvery) {
			db.merge = nil
			return true, nil
		}
		if p = db.planFromTail(indexed, upto); p == nil {
			if p, err = loadMergePlan(ctx, tx, indexed, upto, ""); err != nil {
				return false, err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE prediction_index_state SET merging_upto = ?, merged_below = ''`, upto); err != nil {
			return false, err
		}
	case p == nil || p.from != indexed || p.upto != merging || p.below != below.String:
		if p, err = loadMergePlan(ctx, tx, indexed, merging, below.String); err != nil {
			return false, err
		}
	}
	db.merge = nil // set again below once this step's state is known
	end := p.next
	for end < len(p.pairs) && (end-p.next < mergeStepRows || p.pairs[end].clip == p.pairs[end-1].clip) {
		end++
	}
	if err := insertIndexPairs(tx, p.pairs[p.next:end]); err != nil {
		return false, err
	}
	if end == len(p.pairs) {
		if err := db.addCounts(tx, p); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE prediction_index_state
			SET indexed_upto = ?1, merged_below = NULL, counted_upto = MAX(counted_upto, ?1)`, p.upto); err != nil {
			return false, err
		}
		db.indexedUpto = p.upto
		db.trimTail(p.upto) // should tx roll back, the next merge plans from the table
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE prediction_index_state SET merged_below = ?`, p.pairs[end].clip); err != nil {
		return false, err
	}
	p.next, p.below = end, p.pairs[end].clip
	db.merge = p
	return false, nil
}

// planFromTail plans the merge of (from, upto] from db.tail, without
// reading the table, when the tail holds every id there: ids are dense
// (predictions are never deleted), so it does unless another process
// inserted some, or this one restarted since. Otherwise it returns nil.
func (db *DB) planFromTail(from, upto int64) *mergePlan {
	i, _ := slices.BinarySearchFunc(db.tail, from+1, byID)
	j, _ := slices.BinarySearchFunc(db.tail, upto+1, byID)
	if int64(j-i) != upto-from {
		return nil
	}
	p := &mergePlan{from: from, upto: upto, counts: map[bandCount]int64{}}
	for _, c := range db.tail[i:j] {
		p.counts[c.count]++
		if !c.noClip {
			p.pairs = append(p.pairs, c)
		}
	}
	sortByClip(p.pairs)
	return p
}

// addCounts adds the predictions up to p.upto that prediction_counts
// does not count yet (migration 0012): those of the merge, from p.counts;
// or from the table for a plan read from it, when a process of an earlier
// version merged before without counting (counted_upto is then behind
// p.from), or when another connection has written since the tail was
// taken (it may have deleted or changed a prediction the tail holds).
func (db *DB) addCounts(tx *wtx, p *mergePlan) error {
	ctx := context.Background()
	var counted int64
	if err := tx.QueryRowContext(ctx, `SELECT counted_upto FROM prediction_index_state`).Scan(&counted); err != nil {
		return err
	}
	switch {
	case counted >= p.upto:
		return nil
	case counted == p.from && p.counts != nil && !db.writtenElsewhere(tx):
		for k, n := range p.counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO prediction_counts(model_version, band, n) VALUES (?, ?, ?)
				ON CONFLICT(model_version, band) DO UPDATE SET n = n + excluded.n`, k.version, k.band, n); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO prediction_counts(model_version, band, n)
		SELECT COALESCE(model_version, 0), band, COUNT(*) FROM predictions WHERE id > ? AND id <= ? GROUP BY 1, 2
		ON CONFLICT(model_version, band) DO UPDATE SET n = n + excluded.n`, counted, p.upto)
	return err
}

// trimTail drops db.tail's predictions up to id upto.
func (db *DB) trimTail(upto int64) {
	i, _ := slices.BinarySearchFunc(db.tail, upto+1, byID)
	db.tail = slices.Delete(db.tail, 0, i)
}

func byID(c clipPrediction, id int64) int { return cmp.Compare(c.id, id) }

// sortByClip sorts pairs by clip, then id. It groups them by clip and
// sorts only the distinct clips: half the time of sorting the pairs
// (~4 ms against ~8 for 32,768 pairs over 2,000 clips), time the writer
// holds every write for when a merge starts.
func sortByClip(pairs []clipPrediction) {
	groups := map[string][]int64{}
	for _, c := range pairs {
		groups[c.clip] = append(groups[c.clip], c.id)
	}
	out := pairs[:0]
	for _, clip := range slices.Sorted(maps.Keys(groups)) {
		ids := groups[clip]
		slices.Sort(ids) // usually in id order already
		for _, id := range ids {
			out = append(out, clipPrediction{clip: clip, id: id})
		}
	}
}

// loadMergePlan reads the predictions with ids in (from, upto] and clips
// at or above below, sorted by clip and id.
func loadMergePlan(ctx context.Context, tx *wtx, from, upto int64, below string) (*mergePlan, error) {
	rows, err := tx.conn.QueryContext(ctx, `SELECT clip_id, id FROM predictions
		WHERE id > ? AND id <= ? AND clip_id IS NOT NULL AND clip_id >= ?`, from, upto, below)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	p := &mergePlan{from: from, upto: upto, below: below}
	for rows.Next() {
		var c clipPrediction
		if err := rows.Scan(&c.clip, &c.id); err != nil {
			return nil, err
		}
		p.pairs = append(p.pairs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortByClip(p.pairs)
	return p, nil
}

// insertIndexPairs adds pairs to prediction_clip_index, up to
// maxPredictionRows a statement.
func insertIndexPairs(tx *wtx, pairs []clipPrediction) error {
	ctx := context.Background()
	args := make([]any, 0, 2*min(len(pairs), maxPredictionRows))
	for len(pairs) > 0 {
		n := min(len(pairs), maxPredictionRows)
		args = args[:0]
		for _, c := range pairs[:n] {
			args = append(args, c.clip, c.id)
		}
		if _, err := tx.ExecContext(ctx, insertIndexSQL[n], args...); err != nil {
			return err
		}
		pairs = pairs[n:]
	}
	return nil
}

var insertIndexSQL = multiRowSQL(`INSERT INTO prediction_clip_index(clip_id, id) VALUES `, "(?,?)")

// indexedUptoSQL is how far reads take prediction_clip_index: up to the
// last merge done. Entries a merge under way has added above it are
// left out, and their predictions found in the tail.
const indexedUptoSQL = `(SELECT indexed_upto FROM prediction_index_state)`

// clipPredictionsSQL lists a clip's predictions newest first, up to id
// ?2: the unmerged tail scanned by id, then the index. Each arm yields
// its rows in id order, so SQLite merges the two and stops at the limit
// without sorting the clip's history.
const clipPredictionsSQL = `
	SELECT id, clip_id, model_version, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at
	FROM predictions
	WHERE id > ` + indexedUptoSQL + ` AND id <= ?2 AND clip_id = ?1
	UNION ALL
	SELECT x.id, x.clip_id, p.model_version, p.source, p.predicted_ctr, p.band, p.confidence, p.ctr_lo, p.ctr_hi, p.created_at
	FROM prediction_clip_index x JOIN predictions p ON p.id = x.id
	WHERE x.clip_id = ?1 AND x.id <= ` + indexedUptoSQL + ` AND x.id <= ?2
	ORDER BY 1 DESC LIMIT ?3`

// countClipPredictionsSQL counts a clip's predictions up to id ?2 the
// same way.
const countClipPredictionsSQL = `SELECT
	(SELECT COUNT(*) FROM prediction_clip_index
		WHERE clip_id = ?1 AND id <= ` + indexedUptoSQL + ` AND id <= ?2)
	+ (SELECT COUNT(*) FROM predictions
		WHERE id > ` + indexedUptoSQL + ` AND id <= ?2 AND clip_id = ?1)`
