-- Experiments, their logged decisions (with the full PMF and the
-- probability of the played variant) and rewards joined by event id. The
-- same tables and meaning as sqlite/migrations/0003_experiments.sql, in
-- PostgreSQL's own types.
CREATE TABLE experiments (
    id            text COLLATE "C" PRIMARY KEY,
    definition    jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    snapshot      bytea,
    snapshot_seq  bigint NOT NULL DEFAULT 0
);

CREATE TABLE decisions (
    -- seq orders decisions (SQLite's rowid): the Log cursor and Decision.Seq.
    seq            bigserial UNIQUE,
    experiment_id  text COLLATE "C" NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    event_id       text COLLATE "C" NOT NULL,
    context        jsonb NOT NULL,
    variants       jsonb NOT NULL,
    pmf            jsonb NOT NULL,
    chosen         integer NOT NULL,
    probability    double precision NOT NULL CHECK (probability > 0 AND probability <= 1),
    policy_version bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    deadline       timestamptz NOT NULL,
    rewarded       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (experiment_id, event_id)
);
CREATE INDEX decisions_pending ON decisions(deadline) WHERE NOT rewarded;
CREATE INDEX decisions_log ON decisions(experiment_id, seq);

CREATE TABLE rewards (
    seq           bigserial PRIMARY KEY,
    experiment_id text COLLATE "C" NOT NULL,
    event_id      text COLLATE "C" NOT NULL,
    value         double precision NOT NULL,
    is_default    boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (experiment_id, event_id),
    FOREIGN KEY (experiment_id, event_id) REFERENCES decisions(experiment_id, event_id) ON DELETE CASCADE
);
CREATE INDEX rewards_experiment ON rewards(experiment_id, seq);
