-- Times are INTEGER unix microseconds (UTC), JSON is TEXT.
CREATE TABLE IF NOT EXISTS pipeline_versions (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (slug, version)
);
CREATE INDEX IF NOT EXISTS pipeline_versions_slug_hash ON pipeline_versions (slug, hash);

CREATE TABLE IF NOT EXISTS runs (
    id                  TEXT PRIMARY KEY,
    pipeline_version_id TEXT NOT NULL REFERENCES pipeline_versions (id),
    pipeline_slug       TEXT NOT NULL,
    status              TEXT NOT NULL,
    input               TEXT,
    output              TEXT,
    error               TEXT NOT NULL DEFAULT '',
    priority            INTEGER NOT NULL DEFAULT 0,
    idempotency_key     TEXT NOT NULL DEFAULT '',
    created_by          TEXT NOT NULL DEFAULT '',
    state               TEXT,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    finished_at         INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_status_created ON runs (status, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS step_attempts (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    iteration   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT '',
    input       TEXT,
    output      TEXT,
    error       TEXT NOT NULL DEFAULT '',
    worker_id   TEXT NOT NULL DEFAULT '',
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (run_id, step_id, iteration, attempt)
);

CREATE TABLE IF NOT EXISTS outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL DEFAULT '',
    queue         TEXT NOT NULL,
    msg_id        TEXT NOT NULL DEFAULT '',
    priority      INTEGER NOT NULL DEFAULT 0,
    headers       TEXT,
    body          BLOB,
    deliver_at    INTEGER NOT NULL,
    claimed_until INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (deliver_at, seq);

CREATE TABLE IF NOT EXISTS human_tasks (
    id         TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id    TEXT NOT NULL,
    iteration  INTEGER NOT NULL DEFAULT 0,
    pipeline   TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL,
    prompt     TEXT NOT NULL DEFAULT '',
    ui_schema  TEXT,
    assignees  TEXT NOT NULL DEFAULT '[]',
    quorum     INTEGER NOT NULL DEFAULT 0,
    config     TEXT,
    decisions  TEXT NOT NULL DEFAULT '[]',
    deadline   INTEGER,
    created_at INTEGER NOT NULL,
    closed_at  INTEGER
);
CREATE INDEX IF NOT EXISTS human_tasks_status_created ON human_tasks (status, created_at, id);
CREATE INDEX IF NOT EXISTS human_tasks_run ON human_tasks (run_id);

CREATE TABLE IF NOT EXISTS blobs (
    key        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
