-- The dashboard's counts of predictions by band and model version were a
-- GROUP BY over every recorded prediction: a read of the whole table
-- (unpacking every batch) that grew with it, on every load of the
-- dashboard. prediction_counts keeps them as they change instead, kept
-- by triggers so that every writer counts, whatever its version (an
-- older replica during a rolling upgrade, a prune, an operator's DELETE):
-- a statement's inserted or deleted rows are counted once per statement.
--
-- The counts are spread over 64 shards by the writing connection's
-- backend process: each replica writes on connections of its own, so two
-- replicas seldom add to the same row at once (which would make one wait
-- for the other's commit). A reader sums the shards.
CREATE TABLE prediction_counts (
    shard         integer NOT NULL,
    model_version bigint NOT NULL, -- 0: the heuristic
    band          text NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (shard, model_version, band)
);

-- The functions find their tables in the schema this migration runs in
-- (search_path FROM CURRENT), whatever the search_path of the session
-- whose statement fires them: an operator's DELETE from psql counts in
-- the right schema.
--
-- lift_count_batches and lift_count_rows add the predictions of the
-- statement's transition table, "changed" (the inserted rows, or the
-- deleted ones with a negative sign), to prediction_counts: the two
-- tables hold predictions differently (a batch to a row, or a row each).
-- Rows are upserted in key order: two writers on one shard then lock
-- them in the same order, and wait for each other instead of deadlocking.
CREATE FUNCTION lift_count_batches() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_counts AS c (shard, model_version, band, n)
    SELECT pg_backend_pid() % 64, COALESCE(u.v, 0), u.b, CASE TG_OP WHEN 'DELETE' THEN -count(*) ELSE count(*) END
    FROM changed r CROSS JOIN LATERAL unnest(r.model_versions, r.bands) AS u(v, b)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (shard, model_version, band) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION lift_count_rows() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO prediction_counts AS c (shard, model_version, band, n)
    SELECT pg_backend_pid() % 64, COALESCE(r.model_version, 0), r.band, CASE TG_OP WHEN 'DELETE' THEN -count(*) ELSE count(*) END
    FROM changed r
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (shard, model_version, band) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

-- lift_recount_predictions counts every prediction from scratch: when
-- this migration runs, and after a TRUNCATE (which fires no row's
-- trigger). It waits for the writers adding to the counts to commit, and
-- holds off new ones (readers go on): a count made while a writer's
-- upsert waits would count that writer's predictions twice.
CREATE FUNCTION lift_recount_predictions() RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
    LOCK TABLE prediction_counts IN EXCLUSIVE MODE;
    DELETE FROM prediction_counts;
    INSERT INTO prediction_counts (shard, model_version, band, n)
    SELECT 0, v, b, count(*) FROM (
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

-- No prediction may be written between the count below and the triggers:
-- writers wait for this migration (a read of every prediction, once).
LOCK TABLE predictions, prediction_batches IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER prediction_batches_counted_insert AFTER INSERT ON prediction_batches
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_batches();
CREATE TRIGGER prediction_batches_counted_delete AFTER DELETE ON prediction_batches
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_batches();
CREATE TRIGGER predictions_counted_insert AFTER INSERT ON predictions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_rows();
CREATE TRIGGER predictions_counted_delete AFTER DELETE ON predictions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION lift_count_rows();
CREATE TRIGGER prediction_batches_counted_truncate AFTER TRUNCATE ON prediction_batches
    FOR EACH STATEMENT EXECUTE FUNCTION lift_recount_after_truncate();
CREATE TRIGGER predictions_counted_truncate AFTER TRUNCATE ON predictions
    FOR EACH STATEMENT EXECUTE FUNCTION lift_recount_after_truncate();

SELECT lift_recount_predictions();
