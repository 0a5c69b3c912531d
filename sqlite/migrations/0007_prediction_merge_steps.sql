-- The per-clip index is now merged a few clips at a time (sqlite/clipindex.go),
-- so that no merge holds the writer for milliseconds. While a merge is under
-- way, merged_below is the clip id below which it is done: those clips are
-- in the index up to merging_upto, the others up to indexed_upto (reads use
-- it up to indexed_upto until the merge is done). NULL when no merge is
-- under way.
ALTER TABLE prediction_index_state ADD COLUMN merging_upto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE prediction_index_state ADD COLUMN merged_below TEXT;
