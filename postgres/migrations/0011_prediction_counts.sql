-- The dashboard's counts of predictions by band and model version were a
-- GROUP BY over every recorded prediction: a read of the whole table
-- (unpacking every batch) that grew with it, on every load of the
-- dashboard. They are kept instead, by triggers, so that every writer
-- counts whatever its version (an older replica during a rolling upgrade,
-- a prune, an operator's DELETE or UPDATE):
-- - every insert, delete or update appends its counts, by model version
--   (0: the heuristic) and band, negative for what goes, to
--   prediction_count_deltas:
--   a heap insert without an index or a conflict to check, the cheapest
--   write there is, on the path of every recorded batch;
-- - each server folds the deltas into prediction_counts every few seconds
--   (postgres/dashboard.go, one statement: deleted and added at once);
-- - a reader sums both.
CREATE TABLE prediction_counts (
    model_version bigint NOT NULL,
    band          text NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (model_version, band)
);
CREATE TABLE prediction_count_deltas (
    model_version bigint NOT NULL,
    band          text NOT NULL,
    n             bigint NOT NULL
);

-- The functions find their tables in the schema that holds them, whatever
-- the search_path of the session whose statement fires them (an
-- operator's DELETE from psql counts in the right schema): each start
-- pins their search_path to the schema of prediction_batches
-- (postgres/db.go, pinCountFunctions), also after a rename.
--
-- A statement records one batch, one row of prediction_batches: its
-- insert is counted row by row (a call per statement, without the cost of
-- a transition table). Deletes, updates, and the rows an older replica
-- inserts into predictions, are counted a statement at a time.
CREATE FUNCTION lift_count_batch() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_count_deltas (model_version, band, n)
    SELECT COALESCE(u.v, 0), u.b, count(*) FROM unnest(NEW.model_versions, NEW.bands) AS u(v, b) GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION lift_uncount_batches() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_count_deltas (model_version, band, n)
    SELECT COALESCE(u.v, 0), u.b, -count(*)
    FROM changed r CROSS JOIN LATERAL unnest(r.model_versions, r.bands) AS u(v, b) GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION lift_count_rows() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_count_deltas (model_version, band, n)
    SELECT COALESCE(r.model_version, 0), r.band, CASE TG_OP WHEN 'DELETE' THEN -count(*) ELSE count(*) END
    FROM changed r GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION lift_count_updated_batches() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_count_deltas (model_version, band, n)
    SELECT v, b, sum(k) FROM (
        SELECT COALESCE(u.v, 0) AS v, u.b, -1 AS k FROM before r CROSS JOIN LATERAL unnest(r.model_versions, r.bands) AS u(v, b)
        UNION ALL
        SELECT COALESCE(u.v, 0), u.b, 1 FROM after r CROSS JOIN LATERAL unnest(r.model_versions, r.bands) AS u(v, b)
    ) d GROUP BY 1, 2 HAVING sum(k) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION lift_count_updated_rows() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_count_deltas (model_version, band, n)
    SELECT v, b, sum(k) FROM (
        SELECT COALESCE(model_version, 0) AS v, band AS b, -1 AS k FROM before
        UNION ALL
        SELECT COALESCE(model_version, 0), band, 1 FROM after
    ) d GROUP BY 1, 2 HAVING sum(k) <> 0;
    RETURN NULL;
END $$;

-- lift_recount_predictions counts every prediction from scratch, after a
-- TRUNCATE (which fires no row's trigger) or a restore of the data alone,
-- without holding up the writers: one statement, so one snapshot, counts
-- every prediction it sees and deletes the deltas it sees, which are
-- those of predictions it counts, or deleted, or changed (a batch and its
-- delta commit together); deltas committed later are folded as usual.
-- Folds wait meanwhile (they would move deltas it deletes).
CREATE FUNCTION lift_recount_predictions() RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
    LOCK TABLE prediction_counts IN EXCLUSIVE MODE;
    DELETE FROM prediction_counts;
    WITH folded AS (DELETE FROM prediction_count_deltas RETURNING 1)
    INSERT INTO prediction_counts (model_version, band, n)
    SELECT v, b, count(*) FROM (
        SELECT COALESCE(model_version, 0) AS v, band AS b FROM predictions
        UNION ALL
        SELECT COALESCE(u.v, 0), u.b
        FROM prediction_batches r CROSS JOIN LATERAL unnest(r.model_versions, r.bands) AS u(v, b)
    ) p GROUP BY v, b;
$$;

CREATE FUNCTION lift_recount_after_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM lift_recount_predictions();
    RETURN NULL;
END $$;

CREATE TRIGGER prediction_batches_counted_insert AFTER INSERT ON prediction_batches
    FOR EACH ROW EXECUTE FUNCTION lift_count_batch();
CREATE TRIGGER prediction_batches_counted_delete AFTER DELETE ON prediction_batches
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_uncount_batches();
CREATE TRIGGER predictions_counted_insert AFTER INSERT ON predictions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_rows();
CREATE TRIGGER predictions_counted_delete AFTER DELETE ON predictions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_rows();
CREATE TRIGGER prediction_batches_counted_update AFTER UPDATE ON prediction_batches
    REFERENCING OLD TABLE AS before NEW TABLE AS after FOR EACH STATEMENT EXECUTE FUNCTION lift_count_updated_batches();
CREATE TRIGGER predictions_counted_update AFTER UPDATE ON predictions
    REFERENCING OLD TABLE AS before NEW TABLE AS after FOR EACH STATEMENT EXECUTE FUNCTION lift_count_updated_rows();
CREATE TRIGGER prediction_batches_counted_truncate AFTER TRUNCATE ON prediction_batches
    FOR EACH STATEMENT EXECUTE FUNCTION lift_recount_after_truncate();
CREATE TRIGGER predictions_counted_truncate AFTER TRUNCATE ON predictions
    FOR EACH STATEMENT EXECUTE FUNCTION lift_recount_after_truncate();

-- The predictions recorded so far are counted by the next migration, in
-- a transaction of its own: this one only waits for the writers in flight
-- as it creates the triggers, and every prediction committed after it is
-- counted by them.
