-- A client's own id for an outcome (outcome_id), unique per clip: an
-- outcome sent again, after an answer that did not arrive, is stored once.
ALTER TABLE outcomes ADD COLUMN outcome_key TEXT;
CREATE UNIQUE INDEX outcomes_key ON outcomes(clip_id, outcome_key) WHERE outcome_key IS NOT NULL;
