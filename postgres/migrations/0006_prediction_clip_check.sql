-- The foreign key on predictions.clip_id made every inserted prediction
-- take a FOR KEY SHARE lock on its clip's row: a write to the clip's heap
-- page and a WAL record per prediction, and lock traffic on a popular
-- clip from every replica at once. RecordPrediction checks the clip
-- exists instead (postgres/clips.go). Clips are never deleted, so the
-- check cannot go stale.
ALTER TABLE predictions DROP CONSTRAINT IF EXISTS predictions_clip_id_fkey;
