package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"lift"
	"lift/internal/groupcommit"
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
	err = db.tx(ctx, func(tx pgx.Tx) error {
		created, err = putClip(ctx, tx, c, db.Now())
		return err
	})
	db.features.Invalidate(c.ID) // at once here; other replicas hear of it
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
	now := db.Now()
	// As soon as the write returns, not when the notification arrives.
	defer db.features.InvalidateClips(cs)
	return db.tx(ctx, func(tx pgx.Tx) error {
		for _, c := range cs {
			if _, err := putClip(ctx, tx, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// putClip upserts in one statement so that two replicas putting the same
// new clip at once cannot both try to insert it. xmax is 0 on a row this
// statement inserted and non-zero on one it updated.
func putClip(ctx context.Context, tx pgx.Tx, c *lift.Clip, now time.Time) (created bool, err error) {
	var js [4][]byte // nil is SQL NULL
	for i, m := range []map[string]any{c.PsychologyScore, c.HookStrength, c.NoveltyScore, c.EmotionData} {
		if m == nil {
			continue
		}
		if js[i], err = json.Marshal(m); err != nil {
			return false, lift.Errorf(lift.Invalid, "clip %q: %v", c.ID, err)
		}
	}
	err = tx.QueryRow(ctx, `INSERT INTO clips(id, psychology_score, hook_strength, novelty_score, emotion_data,
		duration, composite_score, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8)
		ON CONFLICT (id) DO UPDATE SET psychology_score = excluded.psychology_score, hook_strength = excluded.hook_strength,
			novelty_score = excluded.novelty_score, emotion_data = excluded.emotion_data, duration = excluded.duration,
			composite_score = excluded.composite_score, updated_at = excluded.updated_at
		RETURNING xmax = 0`,
		c.ID, js[0], js[1], js[2], js[3], c.Duration, c.CompositeScore, now).Scan(&created)
	return created, err
}

func scanClip(s pgx.Row) (*lift.Clip, error) {
	var (
		c  lift.Clip
		js [4][]byte
	)
	if err := s.Scan(&c.ID, &js[0], &js[1], &js[2], &js[3], &c.Duration, &c.CompositeScore, &c.Impressions, &c.Clicks, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	for i, dst := range []*map[string]any{&c.PsychologyScore, &c.HookStrength, &c.NoveltyScore, &c.EmotionData} {
		if js[i] == nil {
			continue
		}
		if err := json.Unmarshal(js[i], dst); err != nil {
			return nil, err
		}
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// GetClip implements lift.ClipStore.
func (db *DB) GetClip(ctx context.Context, id string) (_ *lift.Clip, err error) {
	defer lift.Wrap(&err, "ClipStore.GetClip(%q)", id)
	c, err := scanClip(db.pool.QueryRow(ctx, `SELECT `+clipColumns+` FROM clips WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "Clip not found")
	}
	return c, classify(err)
}

// ListClips implements lift.ClipStore. A limit below 1 is Invalid.
func (db *DB) ListClips(ctx context.Context, after string, limit int) (_ []*lift.Clip, next string, err error) {
	defer lift.Wrap(&err, "ClipStore.ListClips")
	if limit < 1 {
		return nil, "", lift.Errorf(lift.Invalid, "limit must be at least 1, got %d", limit)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+clipColumns+` FROM clips WHERE id > $1 ORDER BY id LIMIT $2`, after, limit+1)
	if err != nil {
		return nil, "", classify(err)
	}
	cs, err := collectClips(rows)
	if err != nil {
		return nil, "", classify(err)
	}
	if len(cs) > limit {
		cs = cs[:limit]
		next = cs[limit-1].ID
	}
	return cs, next, nil
}

func collectClips(rows pgx.Rows) ([]*lift.Clip, error) {
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
	rows, err := db.pool.Query(ctx, `SELECT `+clipColumns+` FROM clips WHERE impressions > 0 ORDER BY id`)
	if err != nil {
		return nil, classify(err)
	}
	cs, err := collectClips(rows)
	return cs, classify(err)
}

// CountClipsWithOutcomes implements lift.ClipStore.
func (db *DB) CountClipsWithOutcomes(ctx context.Context) (n int, err error) {
	defer lift.Wrap(&err, "ClipStore.CountClipsWithOutcomes")
	err = db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM clips WHERE impressions > 0`).Scan(&n)
	return n, classify(err)
}

// AddOutcomes implements lift.ClipStore.
func (db *DB) AddOutcomes(ctx context.Context, os []*lift.Outcome) (err error) {
	defer lift.Wrap(&err, "ClipStore.AddOutcomes(%d outcomes)", len(os))
	for _, o := range os {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	// Restate keeps it as a given observed_at: in UTC, whatever the
	// server's zone, to the microsecond, so the answer is what is kept.
	now := db.Now()
	given := make([]time.Time, len(os)) // the observed_at each outcome came with
	for i, o := range os {
		given[i] = o.ObservedAt
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		// Lock the clips in id order first: two batches naming the same
		// clips in different orders would otherwise deadlock.
		ids := make([]string, len(os))
		for i, o := range os {
			ids[i] = o.ClipID
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM clips WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return err
		}
		touched := map[string]bool{}
		var order []string
		for i, o := range os {
			o.Restate(given[i], now)
			if o.Key != "" {
				// The clip's row locked (again: the lock taken first finds
				// no row for a clip a concurrent PUT has just created), no
				// other transaction can store this key for it meanwhile,
				// and the lookup sees any that did before.
				if _, err := tx.Exec(ctx, `SELECT 1 FROM clips WHERE id = $1 FOR UPDATE`, o.ClipID); err != nil {
					return err
				}
				var s lift.Outcome
				err := tx.QueryRow(ctx, `SELECT id, impressions, clicks, observed_at FROM outcomes WHERE clip_id = $1 AND outcome_key = $2`,
					o.ClipID, o.Key).Scan(&s.ID, &s.Impressions, &s.Clicks, &s.ObservedAt)
				switch {
				case err == nil:
					if err := o.Repeats(&s, given[i]); err != nil {
						return err
					}
					continue
				case !errors.Is(err, pgx.ErrNoRows):
					return err
				}
			}
			tag, err := tx.Exec(ctx, `UPDATE clips SET impressions = impressions + $1, clicks = clicks + $2 WHERE id = $3`,
				o.Impressions, o.Clicks, o.ClipID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return lift.Errorf(lift.NotFound, "Clip not found: %q", o.ClipID)
			}
			if err := tx.QueryRow(ctx, `INSERT INTO outcomes(clip_id, impressions, clicks, observed_at, outcome_key) VALUES ($1,$2,$3,$4,$5) RETURNING id`,
				o.ClipID, o.Impressions, o.Clicks, o.ObservedAt, nullable(o.Key)).Scan(&o.ID); err != nil {
				return err
			}
			if !touched[o.ClipID] {
				touched[o.ClipID] = true
				order = append(order, o.ClipID)
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
	// The clip must exist. Clips are never deleted, so what the feature
	// cache (or, on a miss, the table) says now holds at the insert: the
	// batch statement checks nothing per row.
	if p.ClipID != nil {
		if _, cached := db.features.Get(*p.ClipID); !cached {
			var exists bool
			if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clips WHERE id = $1)`, *p.ClipID).Scan(&exists); err != nil {
				return classify(err)
			}
			if !exists {
				return errClipNotFound
			}
		}
	}
	return groupcommit.SubmitUntil(ctx, db.preds, db.stopped, errClosed, p)
}

var (
	errClosed       = lift.Errorf(lift.Unavailable, "postgres: the store is closed")
	errClipNotFound = lift.Errorf(lift.NotFound, "Clip not found")
)

// CountPredictionsWithActual counts a clip's recorded predictions whose
// actual_ctr has been filled in from outcomes.
func (db *DB) CountPredictionsWithActual(ctx context.Context, clipID string) (n int, err error) {
	defer lift.Wrap(&err, "PredictionStore.CountPredictionsWithActual(%q)", clipID)
	// predictions_with_outcomes gives the same answer, but a condition on
	// the view's clip_id cannot reach the GIN index on the batches.
	err = db.pool.QueryRow(ctx, `SELECT CASE WHEN EXISTS (SELECT 1 FROM clips WHERE id = $1 AND impressions > 0) THEN
			(SELECT COUNT(*) FROM predictions WHERE clip_id = $1) +
			(SELECT COUNT(*) FROM prediction_batches b CROSS JOIN LATERAL unnest(b.clip_ids) AS u(clip_id)
				WHERE b.clip_ids @> ARRAY[$1::text] AND u.clip_id = $1)
		ELSE 0 END`, clipID).Scan(&n)
	return n, classify(err)
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
