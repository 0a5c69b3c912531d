package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"lift"
)

// SaveRewardSQL and SaveRewardsSQL let tests run a replica's reward
// statements inside a transaction they hold open.
const (
	SaveRewardSQL  = saveRewardSQL
	SaveRewardsSQL = saveRewardsSQL
)

// InsertRewards runs the batch insert of rewards on rs as one batch, and
// returns each one's error and the reward found stored before it.
func (db *DB) InsertRewards(ctx context.Context, rs []*lift.Reward) (errs []error, existing []*lift.Reward, err error) {
	qs := make([]*rewardReq, len(rs))
	for i, r := range rs {
		qs[i] = &rewardReq{Ctx: ctx, Item: &pendingReward{r: r}}
	}
	if errs, err = db.insertRewards(ctx, qs); err != nil {
		return nil, nil, err
	}
	for _, q := range qs {
		existing = append(existing, q.Item.existing)
	}
	return errs, existing, nil
}

// InsertPrediction is the one-prediction insert a failed batch falls
// back to.
func (db *DB) InsertPrediction(ctx context.Context, p *lift.Prediction) error {
	return db.insertPrediction(ctx, p)
}

// InsertDecisions runs the batch insert of decisions on ds as one batch.
func (db *DB) InsertDecisions(ctx context.Context, ds []*lift.Decision) ([]error, error) {
	rs := make([]*decisionReq, len(ds))
	for i, d := range ds {
		p, err := newPendingDecision(d)
		if err != nil {
			return nil, err
		}
		rs[i] = &decisionReq{Ctx: ctx, Item: p}
	}
	return db.insertDecisions(ctx, rs)
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
