-- The per-clip index of predictions is maintained in batches by the
-- writer (sqlite/clipindex.go) instead of on every insert: a prediction
-- used to dirty one random leaf of predictions_clip, one more page written
-- to the WAL per prediction in every commit. prediction_clip_index holds
-- (clip_id, id) for every prediction up to indexed_upto; newer ones are
-- found by scanning the table's tail by id.
DROP INDEX predictions_clip;
CREATE TABLE prediction_clip_index (
    clip_id TEXT NOT NULL,
    id      INTEGER NOT NULL,
    PRIMARY KEY (clip_id, id)
) WITHOUT ROWID;
-- sync_marks is bumped by a write made only so that its commit syncs the
-- WAL, and every commit before it (sqlite/db.go, syncedLastPrediction).
CREATE TABLE prediction_index_state (
    one          INTEGER PRIMARY KEY CHECK (one = 1),
    indexed_upto INTEGER NOT NULL,
    sync_marks   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO prediction_clip_index(clip_id, id)
    SELECT clip_id, id FROM predictions WHERE clip_id IS NOT NULL ORDER BY clip_id, id;
INSERT INTO prediction_index_state(one, indexed_upto)
    SELECT 1, COALESCE(MAX(id), 0) FROM predictions;
