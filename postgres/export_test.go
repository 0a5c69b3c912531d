package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"lift"
)

// SaveRewardSQL lets tests run a replica's reward statement inside a
// transaction they hold open.
const SaveRewardSQL = saveRewardSQL

// InsertPrediction is the one-prediction insert a failed batch falls
// back to.
func (db *DB) InsertPrediction(ctx context.Context, p *lift.Prediction) error {
	return db.insertPrediction(ctx, p)
}

// MigrateThrough migrates the database named by dsn up to and including
// the migration named through, as an older Lift would have left it.
func MigrateThrough(ctx context.Context, dsn, through string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := &DB{Now: lift.StoredNow, pool: pool}
	return db.migrate(ctx, through)
}
