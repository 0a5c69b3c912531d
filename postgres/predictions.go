package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"lift"
	"lift/internal/groupcommit"
)

// predictionReq is one RecordPrediction waiting for its batch.
type predictionReq = groupcommit.Request[*lift.Prediction]

// maxPredictionBatch bounds the predictions inserted by one statement:
// one row of prediction_batches, whose ids first_id, first_id+1, ... must
// stay below the next id the sequence gives, 256 on (migration 0008; the
// table's CHECK holds a batch to 256).
const maxPredictionBatch = 256

// recordPredictions inserts the predictions that RecordPrediction calls
// queue, all of those waiting at once in one statement: one round trip
// and one commit (one WAL flush) for the batch instead of three round
// trips and a flush each. It returns when ctx ends, after the batch in
// hand is written and answered.
func (db *DB) recordPredictions(ctx context.Context) {
	commitBatches(ctx, db.preds, maxPredictionBatch, db.insertPredictions, db.insertPrediction)
}

// insertPredictions inserts the batch as one row of prediction_batches
// (migration 0008): its predictions get the ids first_id, first_id+1, ...
// in the callers' order, first_id from the sequence (named once, at Open:
// looking it up per statement cost catalog reads). The clips were checked
// by RecordPrediction: a check per prediction here (an EXISTS sub-plan)
// cost ~10% of PostgreSQL's CPU per prediction (docs/BENCHMARKS-http.md).
func (db *DB) insertPredictions(ctx context.Context, rs []*predictionReq) ([]error, error) {
	n := len(rs)
	var (
		clip   = make([]*string, n)
		model  = make([]*int64, n)
		source = make([]string, n)
		band   = make([]string, n)
		ctr    = make([]float64, n)
		conf   = make([]float64, n)
		lo     = make([]float64, n)
		hi     = make([]float64, n)
		at     = make([]time.Time, n)
	)
	for i, r := range rs {
		p := r.Item
		clip[i], model[i], source[i], band[i] = p.ClipID, p.ModelVersion, p.Source, string(p.Band)
		ctr[i], conf[i], lo[i], hi[i], at[i] = p.PredictedCTR, p.Confidence, p.Interval[0], p.Interval[1], p.CreatedAt
	}
	var first int64
	err := db.pool.QueryRow(ctx, `INSERT INTO prediction_batches(first_id, clip_ids, model_versions, sources, bands,
			predicted_ctrs, confidences, ctr_los, ctr_his, created_ats)
		VALUES (nextval($10::regclass), $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING first_id`,
		clip, model, source, band, ctr, conf, lo, hi, at, db.predictionSeq).Scan(&first)
	if err != nil {
		return nil, classify(err)
	}
	for i, r := range rs {
		r.Item.ID = first + int64(i)
	}
	return nil, nil
}

// insertPrediction inserts one prediction, if its clip exists: the
// fallback of a failed batch checks again, as it runs rarely.
func (db *DB) insertPrediction(ctx context.Context, p *lift.Prediction) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO prediction_batches(first_id, clip_ids, model_versions, sources, predicted_ctrs, bands,
			confidences, ctr_los, ctr_his, created_ats)
		SELECT nextval($10::regclass), ARRAY[$1::text], ARRAY[$2::bigint], ARRAY[$3::text], ARRAY[$4::float8], ARRAY[$5::text], ARRAY[$6::float8],
			ARRAY[$7::float8], ARRAY[$8::float8], ARRAY[$9::timestamptz]
		WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM clips WHERE id = $1::text)
		RETURNING first_id`,
		p.ClipID, p.ModelVersion, p.Source, p.PredictedCTR, string(p.Band), p.Confidence,
		p.Interval[0], p.Interval[1], p.CreatedAt, db.predictionSeq).Scan(&p.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return errClipNotFound
	}
	return classify(err)
}
