-- Experiments, their logged decisions (with the full PMF and the
-- probability of the played variant) and rewards joined by event id.
CREATE TABLE experiments (
    id            TEXT PRIMARY KEY,
    definition    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    snapshot      BLOB,
    snapshot_seq  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE decisions (
    experiment_id  TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    event_id       TEXT NOT NULL,
    context        TEXT NOT NULL,
    variants       TEXT NOT NULL,
    pmf            TEXT NOT NULL,
    chosen         INTEGER NOT NULL,
    probability    REAL NOT NULL CHECK (probability > 0 AND probability <= 1),
    policy_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    deadline       TEXT NOT NULL,
    rewarded       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment_id, event_id)
);
CREATE INDEX decisions_pending ON decisions(deadline) WHERE rewarded = 0;

CREATE TABLE rewards (
    seq           INTEGER PRIMARY KEY,
    experiment_id TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    value         REAL NOT NULL,
    is_default    INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (experiment_id, event_id),
    FOREIGN KEY (experiment_id, event_id) REFERENCES decisions(experiment_id, event_id) ON DELETE CASCADE
);
CREATE INDEX rewards_experiment ON rewards(experiment_id, seq);
