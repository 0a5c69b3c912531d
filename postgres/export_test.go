package postgres

import (
	"context"

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
