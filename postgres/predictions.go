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

// maxPredictionBatch bounds the predictions inserted by one statement.
const maxPredictionBatch = 256

// recordPredictions inserts the predictions that RecordPrediction calls
// queue, all of those waiting at once in one statement: one round trip
// and one commit (one WAL flush) for the batch instead of three round
// trips and a flush each. It returns when ctx ends, after the batch in
// hand is written and answered.
func (db *DB) recordPredictions(ctx context.Context) {
	for {
		var batch []*predictionReq
		select {
		case r := <-db.preds:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
		db.insertBatch(groupcommit.Gather(db.preds, batch, maxPredictionBatch))
	}
}

// insertBatch writes batch and answers every caller. When the statement
// fails, each prediction is inserted on its own, so that one caller's
// error is never another's.
func (db *DB) insertBatch(batch []*predictionReq) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	// Not the callers' contexts: the batch is shared, and one caller
	// giving up must not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := db.insertPredictions(ctx, live)
	if err == nil || len(live) == 1 {
		for _, r := range live {
			r.Answer(err)
		}
		return
	}
	for _, r := range live {
		r.Answer(db.insertPrediction(ctx, r.Item))
	}
}

// insertPredictions inserts the batch with one statement. The ids come
// from the table's identity sequence (named once, at Open: looking it up
// per row cost catalog reads) in a materialised CTE, read back in the
// callers' order. The clips were checked by RecordPrediction: a check
// per row here (an EXISTS sub-plan) cost ~10% of PostgreSQL's CPU per
// prediction (docs/BENCHMARKS-http.md).
func (db *DB) insertPredictions(ctx context.Context, rs []*predictionReq) error {
	n := len(rs)
	var (
		clip     = make([]*string, n)
		model    = make([]*int64, n)
		source   = make([]string, n)
		band     = make([]string, n)
		ctr      = make([]float64, n)
		conf     = make([]float64, n)
		lo       = make([]float64, n)
		hi       = make([]float64, n)
		at       = make([]time.Time, n)
		assigned = make([]int64, 0, n)
	)
	for i, r := range rs {
		p := r.Item
		clip[i], model[i], source[i], band[i] = p.ClipID, p.ModelVersion, p.Source, string(p.Band)
		ctr[i], conf[i], lo[i], hi[i], at[i] = p.PredictedCTR, p.Confidence, p.Interval[0], p.Interval[1], p.CreatedAt
	}
	rows, err := db.pool.Query(ctx, `WITH r AS MATERIALIZED (
			SELECT nextval($10::regclass) AS id, u.*
			FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[],
				$7::float8[], $8::float8[], $9::timestamptz[])
				WITH ORDINALITY AS u(clip_id, model_version, source, band, predicted_ctr, confidence, ctr_lo, ctr_hi, created_at, ord)
		), ins AS (
			INSERT INTO predictions(id, clip_id, model_version, source, band, predicted_ctr, confidence, ctr_lo, ctr_hi, created_at)
			SELECT id, clip_id, model_version, source, band, predicted_ctr, confidence, ctr_lo, ctr_hi, created_at FROM r
		)
		SELECT id FROM r ORDER BY ord`, clip, model, source, band, ctr, conf, lo, hi, at, db.predictionSeq)
	if err != nil {
		return classify(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		assigned = append(assigned, id)
	}
	if err := rows.Err(); err != nil {
		return classify(err)
	}
	if len(assigned) != n {
		return lift.Errorf(lift.Internal, "postgres: %d prediction ids for %d predictions", len(assigned), n)
	}
	for i, r := range rs {
		r.Item.ID = assigned[i]
	}
	return nil
}

// insertPrediction inserts one prediction, if its clip exists: the
// fallback of a failed batch checks again, as it runs rarely.
func (db *DB) insertPrediction(ctx context.Context, p *lift.Prediction) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO predictions(clip_id, model_version, source, predicted_ctr, band, confidence,
		ctr_lo, ctr_hi, created_at)
		SELECT $1::text, $2::bigint, $3::text, $4::float8, $5::text, $6::float8, $7::float8, $8::float8, $9::timestamptz
		WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM clips WHERE id = $1::text)
		RETURNING id`,
		p.ClipID, p.ModelVersion, p.Source, p.PredictedCTR, string(p.Band), p.Confidence,
		p.Interval[0], p.Interval[1], p.CreatedAt).Scan(&p.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return errClipNotFound
	}
	return classify(err)
}
