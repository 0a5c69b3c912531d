-- Clips, their outcomes and every prediction served.
CREATE TABLE clips (
    id               TEXT PRIMARY KEY,
    psychology_score TEXT,
    hook_strength    TEXT,
    novelty_score    TEXT,
    emotion_data     TEXT,
    duration         REAL NOT NULL CHECK (duration >= 0),
    composite_score  REAL,
    impressions      INTEGER NOT NULL DEFAULT 0,
    clicks           INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE outcomes (
    id          INTEGER PRIMARY KEY,
    clip_id     TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
    impressions INTEGER NOT NULL CHECK (impressions > 0),
    clicks      INTEGER NOT NULL CHECK (clicks >= 0 AND clicks <= impressions),
    observed_at TEXT NOT NULL
);
CREATE INDEX outcomes_clip ON outcomes(clip_id);

CREATE TABLE predictions (
    id            INTEGER PRIMARY KEY,
    clip_id       TEXT REFERENCES clips(id) ON DELETE SET NULL,
    model_version INTEGER,
    source        TEXT NOT NULL,
    predicted_ctr REAL NOT NULL,
    band          TEXT NOT NULL,
    confidence    REAL NOT NULL,
    ctr_lo        REAL NOT NULL,
    ctr_hi        REAL NOT NULL,
    created_at    TEXT NOT NULL,
    actual_ctr    REAL
);
CREATE INDEX predictions_clip ON predictions(clip_id);
