-- The predictions recorded before migration 0011's triggers, counted once
-- (a read of every prediction), in a transaction of its own while
-- recording goes on: see lift_recount_predictions.
SELECT lift_recount_predictions();
