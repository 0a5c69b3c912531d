-- An experiment's stats read its totals by variant from the snapshot
-- (the sums of the rewards up to snapshot_seq) plus the rewards learnt
-- since, instead of joining every reward with its decision on each call,
-- which grew with the log (seconds at a few hundred thousand rewards).
-- snapshot_totals_seq says which snapshot the totals belong to: a replica
-- of an earlier version saves a snapshot without them, and the totals of
-- another seq are then not used.
ALTER TABLE experiments ADD COLUMN snapshot_totals jsonb, ADD COLUMN snapshot_totals_seq bigint;
