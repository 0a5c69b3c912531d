package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO models(created_at, source, objective, params, training_rows, holdout_rows,
			evaluated, metrics, calibration, note, model_json) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING version`,
			m.CreatedAt, m.Source, m.Objective, params, m.TrainingRows, m.HoldoutRows,
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

// evaluationJSON encodes metrics and calibration; nil becomes SQL NULL.
func evaluationJSON(mm *lift.ModelMetrics, cal *lift.Calibration) (metrics, calib []byte, err error) {
	if mm != nil {
		if metrics, err = json.Marshal(mm); err != nil {
			return nil, nil, err
		}
	}
	if cal != nil {
		if calib, err = json.Marshal(cal); err != nil {
			return nil, nil, err
		}
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
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE models SET evaluated = true, holdout_rows = $1, metrics = $2, calibration = $3 WHERE version = $4`,
			holdoutRows, metrics, calib, version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return lift.Errorf(lift.NotFound, "model version %d not found", version)
		}
		return nil
	})
}

// SetModelNote implements lift.ModelStore.
func (db *DB) SetModelNote(ctx context.Context, version int64, note string) (err error) {
	defer lift.Wrap(&err, "ModelStore.SetModelNote(%d)", version)
	tag, err := db.pool.Exec(ctx, `UPDATE models SET note = $1 WHERE version = $2`, note, version)
	if err != nil {
		return classify(err)
	}
	if tag.RowsAffected() == 0 {
		return lift.Errorf(lift.NotFound, "model version %d not found", version)
	}
	return nil
}

// activate_ makes version the only active model inside tx. Activations
// from several replicas are serialised by a transaction-scoped advisory
// lock: under READ COMMITTED two concurrent "deactivate all, activate one"
// transactions would otherwise each miss the other's new active row and
// the second would trip the one-active unique index. The lock is released
// at commit or rollback, so a crash cannot leave it held.
func activate_(ctx context.Context, tx pgx.Tx, version int64, now time.Time) (time.Time, error) {
	if err := lockActivation(ctx, tx); err != nil {
		return now, err
	}
	var (
		active bool
		at     *time.Time
	)
	switch err := tx.QueryRow(ctx, `SELECT active, activated_at FROM models WHERE version = $1`, version).Scan(&active, &at); {
	case errors.Is(err, pgx.ErrNoRows):
		return now, lift.Errorf(lift.NotFound, "model version %d not found", version)
	case err != nil:
		return now, err
	case active && at != nil:
		// Already the active one: nothing changes, so a promotion decided
		// meanwhile against this activation still holds.
		return *at, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE models SET active = false WHERE active AND version <> $1`, version); err != nil {
		return now, err
	}
	_, err := tx.Exec(ctx, `UPDATE models SET active = true, activated_at = $1,
		activation = (SELECT MAX(activation) FROM models) + 1 WHERE version = $2`, now, version)
	return now, err
}

// ActivateModel implements lift.ModelStore.
func (db *DB) ActivateModel(ctx context.Context, version int64) (err error) {
	defer lift.Wrap(&err, "ModelStore.ActivateModel(%d)", version)
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := activate_(ctx, tx, version, db.Now())
		return err
	})
}

// lockActivation serialises activations across replicas until the
// transaction ends (taking it twice in one transaction is allowed).
func lockActivation(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.lift.models.activate'))`)
	return err
}

// ActivateModelIf implements lift.ModelStore: the check and the change
// hold the activation lock together.
func (db *DB) ActivateModelIf(ctx context.Context, version int64, ifActive lift.Activation) (activated bool, err error) {
	defer lift.Wrap(&err, "ModelStore.ActivateModelIf(%d, %+v)", version, ifActive)
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockActivation(ctx, tx); err != nil {
			return err
		}
		cur, err := currentActivation(tx.QueryRow(ctx, currentActivationSQL))
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
	a, err := currentActivation(db.pool.QueryRow(ctx, currentActivationSQL))
	return a, classify(err)
}

const currentActivationSQL = `SELECT version, activation FROM models WHERE active`

// currentActivation scans currentActivationSQL's row: none is the zero
// Activation.
func currentActivation(row pgx.Row) (lift.Activation, error) {
	var a lift.Activation
	err := row.Scan(&a.Version, &a.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return lift.Activation{}, nil
	}
	return a, err
}

const modelColumns = `version, created_at, source, objective, params, training_rows, holdout_rows, evaluated, metrics, calibration, note, active, activated_at`

func scanModel(s pgx.Row, withJSON bool) (*lift.ModelVersion, error) {
	var (
		m                    lift.ModelVersion
		params, metrics, cal []byte
		at                   *time.Time
	)
	dst := []any{&m.Version, &m.CreatedAt, &m.Source, &m.Objective, &params, &m.TrainingRows, &m.HoldoutRows,
		&m.Evaluated, &metrics, &cal, &m.Note, &m.Active, &at}
	if withJSON {
		dst = append(dst, &m.Model)
	}
	if err := s.Scan(dst...); err != nil {
		return nil, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if at != nil {
		t := at.UTC()
		m.ActivatedAt = &t
	}
	if err := json.Unmarshal(params, &m.Params); err != nil {
		return nil, err
	}
	if metrics != nil {
		m.Metrics = &lift.ModelMetrics{}
		if err := json.Unmarshal(metrics, m.Metrics); err != nil {
			return nil, err
		}
	}
	if cal != nil {
		m.Calibration = &lift.Calibration{}
		if err := json.Unmarshal(cal, m.Calibration); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// GetModel implements lift.ModelStore.
func (db *DB) GetModel(ctx context.Context, version int64) (_ *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.GetModel(%d)", version)
	m, err := scanModel(db.pool.QueryRow(ctx, `SELECT `+modelColumns+`, model_json FROM models WHERE version = $1`, version), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "model version %d not found", version)
	}
	return m, classify(err)
}

// ActiveModel implements lift.ModelStore.
func (db *DB) ActiveModel(ctx context.Context) (_ *lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.ActiveModel")
	m, err := scanModel(db.pool.QueryRow(ctx, `SELECT `+modelColumns+`, model_json FROM models WHERE active`), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, lift.Errorf(lift.NotFound, "no active model")
	}
	return m, classify(err)
}

// ActiveVersion implements lift.ModelStore.
func (db *DB) ActiveVersion(ctx context.Context) (v int64, err error) {
	defer lift.Wrap(&err, "ModelStore.ActiveVersion")
	err = db.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM models WHERE active`).Scan(&v)
	return v, classify(err)
}

// ListModels implements lift.ModelStore.
func (db *DB) ListModels(ctx context.Context) (_ []*lift.ModelVersion, err error) {
	defer lift.Wrap(&err, "ModelStore.ListModels")
	defer func() { err = classify(err) }()
	rows, err := db.pool.Query(ctx, `SELECT `+modelColumns+` FROM models ORDER BY version DESC`)
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

// TryLock implements lift.Locker with a lease row, as the SQLite store
// does, rather than a session advisory lock. A session lock lives exactly
// as long as one pooled connection, which the pool may close or hand to
// another goroutine, and a hung-but-connected holder would keep it
// forever; a row with an expiry is visible to every replica, survives
// connection churn, and a crashed holder blocks others for at most ttl.
// The upsert is one statement, so two replicas racing for a free or
// expired lease cannot both win. Expiry is judged by the caller's clock
// (db.Now), which tests move; replicas' clocks must agree to well within
// ttl.
func (db *DB) TryLock(ctx context.Context, name, holder string, ttl time.Duration) (ok bool, err error) {
	defer lift.Wrap(&err, "Locker.TryLock(%q)", name)
	now := db.Now()
	err = db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO locks(name, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE locks.expires_at < $4 OR locks.holder = excluded.holder`,
			name, holder, now.Add(ttl), now)
		if err != nil {
			return err
		}
		ok = tag.RowsAffected() > 0
		return nil
	})
	return ok, err
}

// Unlock implements lift.Locker.
func (db *DB) Unlock(ctx context.Context, name, holder string) (err error) {
	defer lift.Wrap(&err, "Locker.Unlock(%q)", name)
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM locks WHERE name = $1 AND holder = $2`, name, holder)
		return err
	})
}

// ExpireLocks ends every lease now, as if their TTLs had passed: for
// operators recovering from a crashed trainer, and for tests.
func (db *DB) ExpireLocks(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "Locker.ExpireLocks")
	return db.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE locks SET expires_at = $1`, time.Unix(0, 0))
		return err
	})
}
