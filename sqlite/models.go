package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"lift"
)

var _ lift.ModelStore = (*DB)(nil)
var _ lift.Locker = (*DB)(nil)

// CreateModel implements lift.ModelStore.
func (db *DB) CreateModel(ctx context.Context, m *lift.ModelVersion, activate bool) (err error) {
	defer lift.Wrap(&err, "ModelStore.CreateModel")
	params, err := json.Marshal(m.Params)
	if err != nil {
		return err
	}
	metrics, cal, err := evaluationJSON(m.Metrics, m.Calibration)
	if err != nil {
		return err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = db.Now()
	}
	return db.tx(ctx, func(tx *wtx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO models(created_at, source, objective, params, training_rows, holdout_rows,
			evaluated, metrics, calibration, note, model_json) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING version`,
			formatTime(m.CreatedAt), m.Source, m.Objective, string(params), m.TrainingRows, m.HoldoutRows,
			m.Evaluated, metrics, cal, m.Note, m.Model).Scan(&m.Version); err != nil {
			return err
		}
		if !activate {
			return nil
		}
		at, err := activate_(ctx, tx, m.Version, db.Now())
		m.Active, m.ActivatedAt = err == nil, &at
		return err
	})
}

func evaluationJSON(mm *lift.ModelMetrics, cal *lift.Calibration) (metrics, calib sql.NullString, err error) {
	if mm != nil {
		b, err := json.Marshal(mm)
		if err != nil {
			return metrics, calib, err
		}
		metrics = sql.NullString{String: string(b), Valid: true}
	}
	if cal != nil {
		b, err := json.Marshal(cal)
		if err != nil {
			return metrics, calib, err
		}
		calib = sql.NullString{String: string(b), Valid: true}
	}
	return metrics, calib, nil
}

// UpdateModelEvaluation implements lift.ModelStore.
func (db *DB) UpdateModelEvaluation(ctx context.Context, version int64, holdoutRows int, mm *lift.ModelMetrics, cal *lift.Calibration) (err error) {
	defer lift.Wrap(&err, "ModelStore.UpdateModelEvaluation(%d)", version)
	metrics, calib, err := evaluationJSON(mm, cal)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE models SET evaluated = 1, holdout_rows = ?, metrics = ?, calibration = ? WHERE version = ?`,
			holdoutRows, metrics, calib, version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lift.Errorf(lift.NotFound, "model version %d not found", version)
		}
		return nil
	})
}

// SetModelNote implements lift.ModelStore.
func (db *DB) SetModelNote(ctx context.Context, version int64, note string) (err error) {
	defer lift.Wrap(&err, "ModelStore.SetModelNote(%d)", version)
	return db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE models SET note = ? WHERE version = ?`, note, version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return lift.Errorf(lift.NotFound, "model version %d not found", version)
		}
		return nil
	})
}

func activate_(ctx context.Context, tx *wtx, version int64, now time.Time) (time.Time, error) {
	var (
		active bool
		at     sql.NullString
	)
	switch err := tx.QueryRowContext(ctx, `SELECT active, activated_at FROM models WHERE version = ?`, version).Scan(&active, &at); {
	case errors.Is(err, sql.ErrNoRows):
		return now, lift.Errorf(lift.NotFound, "model version %d not found", version)
	case err != nil:
		return now, err
	case active && at.Valid:
		// Already the active one: nothing changes, so a promotion decided
		// meanwhile against this activation still holds.
		return parseTime(at.String), nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE models SET active = 0 WHERE active = 1`); err != nil {
		return now, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE models SET active = 1, activated_at = ?,
		activation = (SELECT MAX(activation) FROM models) + 1 WHERE version = ?`, formatTime(now), version)
	return now, err
}

// ActivateModel implements lift.ModelStore.
func (db *DB) ActivateModel(ctx context.Context, version int64) (err error) {
	defer lift.Wrap(&err, "ModelStore.ActivateModel(%d)", version)
	return db.tx(ctx, func(tx *wtx) error {
		_, err := activate_(ctx, tx, version, db.Now())
		return err
	})
}

// ActivateModelIf implements lift.ModelStore. The writer goroutine runs
// one transaction at a time, so the check and the change are atomic.
func (db *DB) ActivateModelIf(ctx context.Context, version int64, ifActive lift.Activation) (activated bool, err error) {
	defer lift.Wrap(&err, "ModelStore.ActivateModelIf(%d, %+v)", version, ifActive)
	err = db.tx(ctx, func(tx *wtx) error {
		cur, err := currentActivation(tx.QueryRowContext(ctx, currentActivationSQL))
		if err != nil {
			return err
		}
		if activated = cur == ifActive; !activated {
			return nil
		}
		_, err = activate_(ctx, tx, version, db.Now())
		return err
	})
	return activated && err == nil, err
}

// CurrentActivation implements lift.ModelStore.
func (db *DB) CurrentActivation(ctx context.Context) (_ lift.Activation, err error) {
	defer lift.Wrap(&err, "ModelStore.CurrentActivation")
	return currentActivation(db.read.QueryRowContext(ctx, currentActivationSQL))
}

const currentActivationSQL = `SELECT version, activation FROM models WHERE active = 1`

// currentActivation scans currentActivationSQL's row: none is the zero
// Activation.
func currentActivation(row *sql.Row) (lift.Activation, error) {
	var a lift.Activation
	err := row.Scan(&a.Version, &a.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return lift.Activation{}, nil
	}
	return a, err
}

const modelColumns = `version, created_at, source, objective, params, training_rows, holdout_rows, evaluated, metrics, calibration, note, active, activated_at`

func scanModel(s scanner, withJSON bool) (*lift.ModelVersion, error) {
	var (
		m                lift.ModelVersion
		created, params  string
		metrics, cal, at sql.NullString
	)
	dst := []any{&m.Version, &created, &m.Source, &m.Objective, &params, &m.TrainingRows, &m.HoldoutRows,
		&m.Evaluated, &metrics, &cal, &m.Note, &m.Active, &at}
	if withJSON {
		dst = append(dst, &m.Model)
	}
	if err := s.Scan(dst...); err != nil {
		return nil, err
	}
	m.CreatedAt = parseTime(created)
	if at.Valid {
		t := parseTime(at.String)
		m.ActivatedAt = &t
	}
	if err := json.Unmarshal([]byte(params), &m.Params); err != nil {
		return nil, err
	}
	if metrics.Valid {
		m.Metrics = &lift.ModelMetrics{}
		if err := json.Unmarshal([]byte(metrics.String), m.Metrics); err != nil {
			return nil, err
		}
	}
	if cal.Valid {
		m.Calibration = &lift.Calibration{}
		if err := json.Unmarshal([]byte(cal.String), m.Calibration); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// GetModel implements lift.ModelStore.
func (db *DB) GetModel(ctx context.Context, version int64) (_ *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.GetModel(%d)", version)
	m, err := scanModel(db.read.QueryRowContext(ctx, `SELECT `+modelColumns+`, model_json FROM models WHERE version = ?`, version), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "model version %d not found", version)
	}
	return m, err
}

// ActiveModel implements lift.ModelStore.
func (db *DB) ActiveModel(ctx context.Context) (_ *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.ActiveModel")
	m, err := scanModel(db.read.QueryRowContext(ctx, `SELECT `+modelColumns+`, model_json FROM models WHERE active = 1`), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "no active model")
	}
	return m, err
}

// ActiveVersion implements lift.ModelStore.
func (db *DB) ActiveVersion(ctx context.Context) (v int64, err error) {
	defer lift.Wrap(&err, "ModelStore.ActiveVersion")
	err = db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM models WHERE active = 1`).Scan(&v)
	return v, err
}

// ListModels implements lift.ModelStore.
func (db *DB) ListModels(ctx context.Context) (_ []*lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.ListModels")
	rows, err := db.read.QueryContext(ctx, `SELECT `+modelColumns+` FROM models ORDER BY version DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []*lift.ModelVersion
	for rows.Next() {
		m, err := scanModel(rows, false)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// TryLock implements lift.Locker with a lease row: an expired lease is
// taken over, so a crashed holder blocks others for at most ttl.
func (db *DB) TryLock(ctx context.Context, name, holder string, ttl time.Duration) (ok bool, err error) {
	defer lift.Wrap(&err, "Locker.TryLock(%q)", name)
	now := db.Now()
	err = db.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO locks(name, holder, expires_at) VALUES (?,?,?)
			ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE locks.expires_at < ? OR locks.holder = excluded.holder`,
			name, holder, formatTime(now.Add(ttl)), formatTime(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n > 0
		return nil
	})
	return ok, err
}

// Unlock implements lift.Locker.
func (db *DB) Unlock(ctx context.Context, name, holder string) (err error) {
	defer lift.Wrap(&err, "Locker.Unlock(%q)", name)
	return db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}

// ExpireLocks ends every lease now, as if their TTLs had passed: for
// operators recovering from a crashed trainer, and for tests.
func (db *DB) ExpireLocks(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "Locker.ExpireLocks")
	return db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE locks SET expires_at = ?`, formatTime(time.Unix(0, 0)))
		return err
	})
}
