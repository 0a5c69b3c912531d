-- The six model inputs and the heuristic's composite, extracted from the
-- clip's JSON objects when it is stored, so a prediction reads seven
-- numbers instead of parsing four objects. NULL for clips stored before
-- this migration: those are parsed as before.
ALTER TABLE clips ADD COLUMN f_psychology REAL;
ALTER TABLE clips ADD COLUMN f_hook REAL;
ALTER TABLE clips ADD COLUMN f_novelty REAL;
ALTER TABLE clips ADD COLUMN f_priority REAL;
ALTER TABLE clips ADD COLUMN f_has_face REAL;
ALTER TABLE clips ADD COLUMN f_composite REAL;
