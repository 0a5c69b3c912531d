package postgres

// SaveRewardSQL lets tests run a replica's reward statement inside a
// transaction they hold open.
const SaveRewardSQL = saveRewardSQL
