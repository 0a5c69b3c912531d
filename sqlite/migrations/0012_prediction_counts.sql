-- The dashboard's counts of predictions by band and model version were a
-- GROUP BY over every recorded prediction: a read of the whole table
-- that grew with it, on every load of the dashboard. prediction_counts
-- holds the counts of the predictions up to counted_upto, kept so:
-- - the writer adds those of each merge of the per-clip index
--   (sqlite/clipindex.go) in the transaction that ends the merge, and
--   moves counted_upto with indexed_upto; a merge by a process of an
--   earlier version moves indexed_upto alone, and the next merge here
--   counts what it left from the table;
-- - triggers subtract every prediction deleted up to counted_upto, and
--   move one whose band or model version is changed, whoever does it (a
--   prune, of any version; an operator); the writer counts a merge from
--   the table instead of its memory once another connection has written;
-- - reads add the predictions after counted_upto, and leave out those
--   counted but not yet synced.
-- model_version 0 is the heuristic.
ALTER TABLE prediction_index_state ADD COLUMN counted_upto INTEGER NOT NULL DEFAULT 0;
UPDATE prediction_index_state SET counted_upto = indexed_upto;
CREATE TABLE prediction_counts (
    model_version INTEGER NOT NULL,
    band          TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (model_version, band)
) WITHOUT ROWID;
INSERT INTO prediction_counts(model_version, band, n)
    SELECT COALESCE(model_version, 0), band, COUNT(*) FROM predictions
    WHERE id <= (SELECT counted_upto FROM prediction_index_state)
    GROUP BY 1, 2;
CREATE TRIGGER predictions_counted_delete AFTER DELETE ON predictions
    WHEN old.id <= (SELECT counted_upto FROM prediction_index_state)
BEGIN
    INSERT INTO prediction_counts(model_version, band, n) VALUES (COALESCE(old.model_version, 0), old.band, -1)
        ON CONFLICT(model_version, band) DO UPDATE SET n = n - 1;
END;
CREATE TRIGGER predictions_counted_update AFTER UPDATE OF band, model_version ON predictions
    WHEN old.id <= (SELECT counted_upto FROM prediction_index_state)
BEGIN
    INSERT INTO prediction_counts(model_version, band, n) VALUES (COALESCE(old.model_version, 0), old.band, -1)
        ON CONFLICT(model_version, band) DO UPDATE SET n = n - 1;
    INSERT INTO prediction_counts(model_version, band, n) VALUES (COALESCE(new.model_version, 0), new.band, 1)
        ON CONFLICT(model_version, band) DO UPDATE SET n = n + 1;
END;
