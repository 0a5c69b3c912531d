package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
// fails (an unknown clip: a foreign key), each prediction is inserted on
// its own, so that one caller's error is never another's.
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
// callers' order.
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
		return predictionError(err)
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
		return predictionError(err)
	}
	if len(assigned) != n {
		return lift.Errorf(lift.Internal, "postgres: %d prediction ids for %d predictions", len(assigned), n)
	}
	for i, r := range rs {
		r.Item.ID = assigned[i]
	}
	return nil
}

// insertPrediction inserts one prediction.
func (db *DB) insertPrediction(ctx context.Context, p *lift.Prediction) error {
	err := db.pool.QueryRow(ctx, `INSERT INTO predictions(clip_id, model_version, source, predicted_ctr, band, confidence,
		ctr_lo, ctr_hi, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id`,
		p.ClipID, p.ModelVersion, p.Source, p.PredictedCTR, string(p.Band), p.Confidence,
		p.Interval[0], p.Interval[1], p.CreatedAt).Scan(&p.ID)
	return predictionError(err)
}

// predictionError makes the foreign key's refusal of an unknown clip
// NotFound.
func predictionError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return lift.Errorf(lift.NotFound, "Clip not found")
	}
	return classify(err)
}
