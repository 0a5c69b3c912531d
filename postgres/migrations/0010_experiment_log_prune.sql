-- lift experiments prune deletes decisions (and their rewards) that the
-- latest policy snapshot covers; log_pruned_upto is the largest reward
-- seq it deleted, so that a replica that has not learnt that far reloads
-- the policy from the snapshot instead of missing what was deleted.
ALTER TABLE experiments ADD COLUMN log_pruned_upto bigint NOT NULL DEFAULT 0;
