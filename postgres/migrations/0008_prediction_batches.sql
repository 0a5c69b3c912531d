-- Predictions are recorded a batch to a row: the predictions that one
-- statement records (RecordPrediction's group commit, up to 256) become
-- one row of prediction_batches, an array per column with one value per
-- prediction. A row per prediction cost a heap tuple and two b-tree
-- insertions each (the key and the clip index); a batch costs one tuple,
-- one key and a GIN entry per clip (appended to the index's pending
-- list): about a third less of PostgreSQL's CPU per recorded prediction,
-- and half the space (docs/BENCHMARKS-http.md).
--
-- A batch's predictions have the ids first_id, first_id + 1, ... in array
-- order, first_id taken from the predictions table's own id sequence, which
-- now steps by 256 (the largest batch): ids never collide and keep
-- increasing, whichever table holds them.
--
-- The predictions table stays, with the rows it holds, and replicas of an
-- older version still insert into it during a rolling upgrade (their ids
-- step by 256 too); all_predictions reads both, one row per prediction.
ALTER TABLE predictions ALTER COLUMN id SET INCREMENT BY 256;

CREATE TABLE prediction_batches (
    first_id       bigint PRIMARY KEY,
    clip_ids       text[] NOT NULL,
    model_versions bigint[] NOT NULL,
    sources        text[] NOT NULL,
    bands          text[] NOT NULL,
    predicted_ctrs double precision[] NOT NULL,
    confidences    double precision[] NOT NULL,
    ctr_los        double precision[] NOT NULL,
    ctr_his        double precision[] NOT NULL,
    created_ats    timestamptz[] NOT NULL,
    CHECK (cardinality(clip_ids) BETWEEN 1 AND 256
        AND cardinality(model_versions) = cardinality(clip_ids)
        AND cardinality(sources) = cardinality(clip_ids)
        AND cardinality(bands) = cardinality(clip_ids)
        AND cardinality(predicted_ctrs) = cardinality(clip_ids)
        AND cardinality(confidences) = cardinality(clip_ids)
        AND cardinality(ctr_los) = cardinality(clip_ids)
        AND cardinality(ctr_his) = cardinality(clip_ids)
        AND cardinality(created_ats) = cardinality(clip_ids))
);
CREATE INDEX prediction_batches_clips ON prediction_batches USING gin (clip_ids);

CREATE VIEW all_predictions AS
    SELECT id, clip_id, model_version, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at
    FROM predictions
    UNION ALL
    SELECT b.first_id + u.ord - 1, u.clip_id, u.model_version, u.source, u.predicted_ctr, u.band,
        u.confidence, u.ctr_lo, u.ctr_hi, u.created_at
    FROM prediction_batches b
    CROSS JOIN LATERAL unnest(b.clip_ids, b.model_versions, b.sources, b.predicted_ctrs, b.bands,
        b.confidences, b.ctr_los, b.ctr_his, b.created_ats)
        WITH ORDINALITY AS u(clip_id, model_version, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at, ord);

CREATE OR REPLACE VIEW predictions_with_outcomes AS
    SELECT p.*, CASE WHEN c.impressions > 0 THEN c.clicks::double precision / c.impressions END AS actual_ctr
    FROM all_predictions p LEFT JOIN clips c ON c.id = p.clip_id;
