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

// commitBatches takes what callers queue on ch, all of those waiting at
// once (up to max), and writes them with all, one statement, then answers
// every caller: with the error all gives for its item (if it gives any:
// an item the statement skipped), else nil. When the statement fails,
// each item whose caller still waits is written on its own with one, so
// that one caller's error is never another's. It returns when ctx ends,
// after the batch in hand is written and answered.
//
// A caller's context bounds its wait as a statement of its own would:
// callers wait with groupcommit.SubmitUntil, which returns when their
// context ends; the batch's statement runs until the last of its callers'
// deadlines (and at most batchTimeout), so that no statement is cut short
// while someone still waits for it (under load, a batch cut at its
// earliest deadline would fall back to a statement per caller, and fall
// further behind); a retry runs under its own caller's context.
func commitBatches[T any](ctx context.Context, ch chan *groupcommit.Request[T], max int,
	all func(context.Context, []*groupcommit.Request[T]) ([]error, error), one func(context.Context, T) error) {
	for {
		var batch []*groupcommit.Request[T]
		select {
		case r := <-ch:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
		live := groupcommit.Live(groupcommit.Gather(ch, batch, max))
		if len(live) == 0 {
			continue
		}
		// Not the callers' contexts: the batch is shared, and one caller
		// giving up must not fail the others.
		bctx, cancel := context.WithDeadline(context.Background(), batchDeadline(live))
		errs, err := all(bctx, live)
		cancel()
		if err == nil {
			for i, r := range live {
				if i < len(errs) {
					r.Answer(errs[i])
				} else {
					r.Answer(nil)
				}
			}
			continue
		}
		for _, r := range live {
			switch {
			case r.Ctx.Err() != nil:
				r.Answer(r.Ctx.Err())
			case len(live) == 1:
				r.Answer(callerErr(r, err))
			default:
				octx, cancel := context.WithTimeout(r.Ctx, batchTimeout)
				r.Answer(callerErr(r, one(octx, r.Item)))
				cancel()
			}
		}
	}
}

// batchTimeout bounds a batch's statement, and each statement of its
// fallback, whatever their callers' deadlines.
const batchTimeout = 30 * time.Second

// batchDeadline is when a batch's statement must end: at the last of its
// callers' deadlines, or batchTimeout from now if that is sooner or one
// of them has none.
func batchDeadline[T any](live []*groupcommit.Request[T]) time.Time {
	limit := time.Now().Add(batchTimeout)
	var last time.Time
	for _, r := range live {
		d, ok := r.Ctx.Deadline()
		if !ok {
			return limit
		}
		if d.After(last) {
			last = d
		}
	}
	if last.Before(limit) {
		return last
	}
	return limit
}

// callerErr is what r's caller gets for a statement that failed with err.
// A statement ended by a deadline was ended by the caller's own (then it
// gets its context's error, as a statement under its context would
// give), or by batchTimeout: the database not answering.
func callerErr[T any](r *groupcommit.Request[T], err error) error {
	if lift.KindOf(err) != lift.Internal || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if d, ok := r.Ctx.Deadline(); ok && !time.Now().Before(d) {
		// The context's own timer fires at d too: wait the moment it may
		// lag, so that the caller (the HTTP layer) finds it ended.
		<-r.Ctx.Done()
		return r.Ctx.Err()
	}
	return lift.Errorf(lift.Unavailable, "the database did not finish the statement within %s", batchTimeout)
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
