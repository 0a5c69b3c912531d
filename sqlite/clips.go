package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"lift"
)

var _ lift.ClipStore = (*DB)(nil)
var _ lift.PredictionStore = (*DB)(nil)

const clipColumns = `id, psychology_score, hook_strength, novelty_score, emotion_data, duration, composite_score, impressions, clicks, created_at, updated_at`

// PutClip implements lift.ClipStore.
func (db *DB) PutClip(ctx context.Context, c *lift.Clip) (created bool, err error) {
	defer lift.Wrap(&err, "ClipStore.PutClip(%q)", c.ID)
	c.DropNegativeZeros()
	if err := c.Validate(); err != nil {
		return false, err
	}
	err = db.tx(ctx, func(tx *wtx) error {
		created, err = putClip(ctx, tx, c, db.now())
		return err
	})
	db.features.Invalidate(c.ID)
	return created, err
}

// PutClips implements lift.ClipStore.
func (db *DB) PutClips(ctx context.Context, cs []*lift.Clip) (err error) {
	defer lift.Wrap(&err, "ClipStore.PutClips(%d clips)", len(cs))
	for _, c := range cs {
		c.DropNegativeZeros()
		if err := c.Validate(); err != nil {
			return err
		}
	}
	now := db.now()
	// After the write, committed or not: either way the cache must not
	// keep the old value.
	defer db.features.InvalidateClips(cs)
	return db.tx(ctx, func(tx *wtx) error {
		for _, c := range cs {
			if _, err := putClip(ctx, tx, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func putClip(ctx context.Context, tx *wtx, c *lift.Clip, now string) (bool, error) {
	var js [4]sql.NullString
	for i, m := range []map[string]any{c.PsychologyScore, c.HookStrength, c.NoveltyScore, c.EmotionData} {
		if m == nil {
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return false, lift.Errorf(lift.Invalid, "clip %q: %v", c.ID, err)
		}
		js[i] = sql.NullString{String: string(b), Valid: true}
	}
	var composite sql.NullFloat64
	if c.CompositeScore != nil {
		composite = sql.NullFloat64{Float64: *c.CompositeScore, Valid: true}
	}
	f := c.Features()
	res, err := tx.ExecContext(ctx, `UPDATE clips SET psychology_score=?, hook_strength=?, novelty_score=?, emotion_data=?,
		duration=?, composite_score=?, updated_at=?, f_psychology=?, f_hook=?, f_novelty=?, f_priority=?, f_has_face=?, f_composite=?
		WHERE id=?`,
		js[0], js[1], js[2], js[3], c.Duration, composite, now,
		f.PsychologyComposite, f.HookStrength, f.NoveltyScore, f.EmotionPriority, f.HasFace, f.CompositeScore, c.ID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return false, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO clips(id, psychology_score, hook_strength, novelty_score, emotion_data,
		duration, composite_score, created_at, updated_at, f_psychology, f_hook, f_novelty, f_priority, f_has_face, f_composite)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, js[0], js[1], js[2], js[3], c.Duration, composite, now, now,
		f.PsychologyComposite, f.HookStrength, f.NoveltyScore, f.EmotionPriority, f.HasFace, f.CompositeScore)
	return err == nil, err
}

type scanner interface{ Scan(...any) error }

func scanClip(s scanner) (*lift.Clip, error) {
	var (
		c         lift.Clip
		js        [4]sql.NullString
		composite sql.NullFloat64
		created   string
		updated   string
	)
	if err := s.Scan(&c.ID, &js[0], &js[1], &js[2], &js[3], &c.Duration, &composite, &c.Impressions, &c.Clicks, &created, &updated); err != nil {
		return nil, err
	}
	for i, dst := range []*map[string]any{&c.PsychologyScore, &c.HookStrength, &c.NoveltyScore, &c.EmotionData} {
		if !js[i].Valid {
			continue
		}
		if err := json.Unmarshal([]byte(js[i].String), dst); err != nil {
			return nil, err
		}
	}
	if composite.Valid {
		v := composite.Float64
		c.CompositeScore = &v
	}
	c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
	return &c, nil
}

// GetClip implements lift.ClipStore.
func (db *DB) GetClip(ctx context.Context, id string) (_ *lift.Clip, err error) {
	defer lift.Wrap(&err, "ClipStore.GetClip(%q)", id)
	c, err := scanClip(db.read.QueryRowContext(ctx, `SELECT `+clipColumns+` FROM clips WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "Clip not found")
	}
	return c, err
}

// ClipFeatures returns a clip's model inputs (NotFound if absent): the
// prediction hot path. They come from the feature cache, or from the
// stored feature columns without parsing the clip's JSON objects.
func (db *DB) ClipFeatures(ctx context.Context, id string) (_ lift.Features, err error) {
	if f, ok := db.features.Get(id); ok {
		return f, nil
	}
	defer lift.Wrap(&err, "ClipStore.ClipFeatures(%q)", id)
	token := db.features.Begin()
	var (
		f    lift.Features
		cols [6]sql.NullFloat64
	)
	err = db.read.QueryRowContext(ctx, `SELECT duration, f_psychology, f_hook, f_novelty, f_priority, f_has_face, f_composite
		FROM clips WHERE id = ?`, id).Scan(&f.Duration, &cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5])
	if errors.Is(err, sql.ErrNoRows) {
		return f, lift.Errorf(lift.NotFound, "Clip not found")
	}
	if err != nil {
		return f, err
	}
	if !cols[0].Valid { // stored before the feature columns existed
		c, err := db.GetClip(ctx, id)
		if err != nil {
			return f, err
		}
		f = c.Features()
	} else {
		f.PsychologyComposite, f.HookStrength, f.NoveltyScore = cols[0].Float64, cols[1].Float64, cols[2].Float64
		f.EmotionPriority, f.HasFace, f.CompositeScore = cols[3].Float64, cols[4].Float64, cols[5].Float64
	}
	db.features.Fill(id, f, token)
	return f, nil
}

// ListClips implements lift.ClipStore.
func (db *DB) ListClips(ctx context.Context, after string, limit int) (_ []*lift.Clip, next string, err error) {
	defer lift.Wrap(&err, "ClipStore.ListClips")
	if limit < 1 {
		return nil, "", lift.Errorf(lift.Invalid, "limit must be at least 1, got %d", limit)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+clipColumns+` FROM clips WHERE id > ? ORDER BY id LIMIT ?`, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	cs, err := collectClips(rows)
	if err != nil {
		return nil, "", err
	}
	if len(cs) > limit {
		cs = cs[:limit]
		next = cs[limit-1].ID
	}
	return cs, next, nil
}

func collectClips(rows *sql.Rows) ([]*lift.Clip, error) {
	defer rows.Close()
	var cs []*lift.Clip
	for rows.Next() {
		c, err := scanClip(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// ClipsWithOutcomes implements lift.ClipStore.
func (db *DB) ClipsWithOutcomes(ctx context.Context) (_ []*lift.Clip, err error) {
	defer lift.Wrap(&err, "ClipStore.ClipsWithOutcomes")
	rows, err := db.read.QueryContext(ctx, `SELECT `+clipColumns+` FROM clips WHERE impressions > 0 ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collectClips(rows)
}

// CountClipsWithOutcomes implements lift.ClipStore.
func (db *DB) CountClipsWithOutcomes(ctx context.Context) (n int, err error) {
	defer lift.Wrap(&err, "ClipStore.CountClipsWithOutcomes")
	err = db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM clips WHERE impressions > 0`).Scan(&n)
	return n, err
}

// AddOutcomes implements lift.ClipStore.
func (db *DB) AddOutcomes(ctx context.Context, os []*lift.Outcome) (err error) {
	defer lift.Wrap(&err, "ClipStore.AddOutcomes(%d outcomes)", len(os))
	for _, o := range os {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	now := db.Now()                     // Restate keeps it as a given observed_at is kept
	given := make([]time.Time, len(os)) // the observed_at each outcome came with
	for i, o := range os {
		given[i] = o.ObservedAt
	}
	return db.tx(ctx, func(tx *wtx) error {
		for i, o := range os {
			o.Restate(given[i], now)
			if o.Key != "" {
				var s lift.Outcome
				var at string
				err := tx.QueryRowContext(ctx, `SELECT id, impressions, clicks, observed_at FROM outcomes WHERE clip_id = ? AND outcome_key = ?`,
					o.ClipID, o.Key).Scan(&s.ID, &s.Impressions, &s.Clicks, &at)
				switch {
				case err == nil:
					s.ObservedAt = parseTime(at)
					if err := o.Repeats(&s, given[i]); err != nil {
						return err
					}
					continue
				case !errors.Is(err, sql.ErrNoRows):
					return err
				}
			}
			res, err := tx.ExecContext(ctx, `UPDATE clips SET impressions = impressions + ?, clicks = clicks + ? WHERE id = ?`,
				o.Impressions, o.Clicks, o.ClipID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return lift.Errorf(lift.NotFound, "Clip not found: %q", o.ClipID)
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO outcomes(clip_id, impressions, clicks, observed_at, outcome_key) VALUES (?,?,?,?,?) RETURNING id`,
				o.ClipID, o.Impressions, o.Clicks, formatTime(o.ObservedAt), nullable(o.Key)).Scan(&o.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecordPrediction implements lift.PredictionStore.
func (db *DB) RecordPrediction(ctx context.Context, p *lift.Prediction) (err error) {
	defer lift.Wrap(&err, "PredictionStore.RecordPrediction")
	for _, v := range []float64{p.PredictedCTR, p.Confidence, p.Interval[0], p.Interval[1]} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return lift.Errorf(lift.Internal, "prediction values must be in [0,1], got %v", v)
		}
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = db.Now()
	}
	p.CreatedAt = lift.StoredTime(p.CreatedAt)
	return db.send(ctx, write{pred: p, f: func(tx *wtx) error {
		return insertPredictions(tx, []*lift.Prediction{p})
	}})
}

const predictionColumns = 9

// insertPredictions records ps with multi-row INSERTs of up to
// maxPredictionRows rows (fewer statements to step through than one per
// prediction). SQLite gives each new row the largest rowid in the table
// plus one, so the rows of one statement get consecutive ids ending at
// the one it reports; no other connection can insert meanwhile, as this
// is the write transaction. The foreign key refuses an unknown clip.
func insertPredictions(tx *wtx, ps []*lift.Prediction) error {
	ctx := context.Background()
	args := make([]any, 0, predictionColumns*min(len(ps), maxPredictionRows))
	for len(ps) > 0 {
		n := min(len(ps), maxPredictionRows)
		args = args[:0]
		for _, p := range ps[:n] {
			args = append(args, p.ModelVersion, p.Source, p.PredictedCTR, string(p.Band), p.Confidence,
				p.Interval[0], p.Interval[1], formatTime(p.CreatedAt), p.ClipID)
		}
		res, err := tx.ExecContext(ctx, insertPredictionsSQL[n], args...)
		if err != nil {
			if strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
				return lift.Errorf(lift.NotFound, "Clip not found")
			}
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i, p := range ps[:n] {
			p.ID = last - int64(n-1-i)
			c := clipPrediction{id: p.ID, noClip: p.ClipID == nil, count: countOf(p)}
			if p.ClipID != nil {
				c.clip = *p.ClipID
			}
			tx.inserted = append(tx.inserted, c)
		}
		tx.lastPred = last
		ps = ps[n:]
	}
	return nil
}

// countOf is the row of prediction_counts that counts p.
func countOf(p *lift.Prediction) bandCount {
	c := bandCount{band: string(p.Band)}
	if p.ModelVersion != nil {
		c.version = *p.ModelVersion
	}
	return c
}

// maxPredictionRows bounds a multi-row INSERT; insertPredictionsSQL holds
// the statement for each row count up to it (each is prepared once, when
// first used), so that a batch takes one statement.
const maxPredictionRows = 32

var insertPredictionsSQL = multiRowSQL(`INSERT INTO predictions(model_version, source, predicted_ctr, band, confidence,
	ctr_lo, ctr_hi, created_at, clip_id) VALUES `, "(?,?,?,?,?,?,?,?,?)")

// multiRowSQL is head followed by n copies of row, comma-separated, for
// each n from 1 to maxPredictionRows.
func multiRowSQL(head, row string) map[int]string {
	m := map[int]string{}
	for n := 1; n <= maxPredictionRows; n++ {
		m[n] = head + strings.Repeat(","+row, n)[1:]
	}
	return m
}

// CountPredictionsWithActual counts a clip's recorded predictions whose
// actual_ctr has been filled in from outcomes.
func (db *DB) CountPredictionsWithActual(ctx context.Context, clipID string) (n int, err error) {
	defer lift.Wrap(&err, "PredictionStore.CountPredictionsWithActual(%q)", clipID)
	// A prediction's actual CTR is its clip's (predictions_with_outcomes):
	// known once the clip has impressions.
	var impressions int64
	switch err := db.read.QueryRowContext(ctx, `SELECT impressions FROM clips WHERE id = ?`, clipID).Scan(&impressions); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, err
	case impressions == 0:
		return 0, nil
	}
	err = db.read.QueryRowContext(ctx, countClipPredictionsSQL, clipID, db.durablePred.Load()).Scan(&n)
	return n, err
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
