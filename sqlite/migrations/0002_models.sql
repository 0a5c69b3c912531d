-- The model registry and the training lease.
CREATE TABLE models (
    version       INTEGER PRIMARY KEY,
    created_at    TEXT NOT NULL,
    source        TEXT NOT NULL,
    objective     TEXT NOT NULL,
    params        TEXT NOT NULL,
    training_rows INTEGER NOT NULL,
    holdout_rows  INTEGER NOT NULL,
    evaluated     INTEGER NOT NULL DEFAULT 0,
    metrics       TEXT,
    calibration   TEXT,
    note          TEXT NOT NULL DEFAULT '',
    model_json    BLOB NOT NULL,
    active        INTEGER NOT NULL DEFAULT 0,
    activated_at  TEXT
);
CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;

CREATE TABLE locks (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
