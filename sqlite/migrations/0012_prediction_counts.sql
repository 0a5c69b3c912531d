-- The dashboard's counts of predictions by band and model version were a
-- GROUP BY over every recorded prediction: a read of the whole table
-- that grew with it, on every load of the dashboard. prediction_counts
-- holds the counts of the predictions up to indexed_upto: the writer adds
-- those of each merge of the per-clip index (sqlite/clipindex.go) in the
-- transaction that ends it, and a prune subtracts what it deletes; reads
-- add the unmerged tail, which the merges bound. model_version 0 is the
-- heuristic.
CREATE TABLE prediction_counts (
    model_version INTEGER NOT NULL,
    band          TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (model_version, band)
) WITHOUT ROWID;
INSERT INTO prediction_counts(model_version, band, n)
    SELECT COALESCE(model_version, 0), band, COUNT(*) FROM predictions
    WHERE id <= (SELECT indexed_upto FROM prediction_index_state)
    GROUP BY 1, 2;
