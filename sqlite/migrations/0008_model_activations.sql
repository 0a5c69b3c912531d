-- Each activation of a model version gets the next number, so that a
-- promotion decided while one activation was current can tell it from a
-- later one of the same version (A, then B, then A again: a rollback).
ALTER TABLE models ADD COLUMN activation INTEGER NOT NULL DEFAULT 0;
UPDATE models SET activation = 1 WHERE active = 1;
