-- Tables are created unqualified: the store sets search_path to its schema.

CREATE TABLE pipeline_versions (
    id          text PRIMARY KEY,
    slug        text NOT NULL,
    name        text NOT NULL DEFAULT '',
    version     integer NOT NULL,
    hash        text NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (slug, version)
);
CREATE INDEX pipeline_versions_slug_hash ON pipeline_versions (slug, hash);

CREATE TABLE runs (
    id                  text COLLATE "C" PRIMARY KEY,
    pipeline_version_id text NOT NULL REFERENCES pipeline_versions (id),
    pipeline_slug       text NOT NULL,
    status              text NOT NULL,
    input               jsonb,
    output              jsonb,
    error               text NOT NULL DEFAULT '',
    priority            integer NOT NULL DEFAULT 0,
    idempotency_key     text NOT NULL DEFAULT '',
    created_by          text NOT NULL DEFAULT '',
    state               jsonb,
    version             bigint NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);
CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_status_created ON runs (status, created_at DESC, id DESC);
CREATE INDEX runs_slug_created ON runs (pipeline_slug, created_at DESC, id DESC);
CREATE INDEX runs_created_by_created ON runs (created_by, created_at DESC, id DESC);

CREATE TABLE step_attempts (
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     text NOT NULL,
    iteration   integer NOT NULL,
    attempt     integer NOT NULL,
    status      text NOT NULL DEFAULT '',
    input       jsonb,
    output      jsonb,
    error       text NOT NULL DEFAULT '',
    worker_id   text NOT NULL DEFAULT '',
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, step_id, iteration, attempt)
);

CREATE TABLE outbox (
    seq           bigserial PRIMARY KEY,
    run_id        text NOT NULL DEFAULT '',
    queue         text NOT NULL,
    msg_id        text NOT NULL DEFAULT '',
    priority      integer NOT NULL DEFAULT 0,
    headers       jsonb,
    body          bytea,
    deliver_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz
);
CREATE INDEX outbox_due ON outbox (deliver_at, seq);

CREATE TABLE human_tasks (
    id         text PRIMARY KEY,
    run_id     text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id    text NOT NULL,
    iteration  integer NOT NULL DEFAULT 0,
    pipeline   text NOT NULL DEFAULT '',
    status     text NOT NULL,
    prompt     text NOT NULL DEFAULT '',
    ui_schema  jsonb,
    assignees  jsonb NOT NULL DEFAULT '[]',
    quorum     integer NOT NULL DEFAULT 0,
    config     jsonb,
    decisions  jsonb NOT NULL DEFAULT '[]',
    deadline   timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    closed_at  timestamptz
);
CREATE INDEX human_tasks_status_created ON human_tasks (status, created_at, id);
CREATE INDEX human_tasks_run ON human_tasks (run_id);
CREATE INDEX human_tasks_assignees ON human_tasks USING gin (assignees jsonb_path_ops);

CREATE TABLE blobs (
    key        text PRIMARY KEY,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ia_require_rows aborts the statement (and the batch's implicit transaction)
-- when a guarded UPDATE matched nothing, so RunUpdate stays one round trip.
CREATE FUNCTION ia_require_rows(n bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'ia: guarded update matched no row' USING ERRCODE = 'IA409';
    END IF;
    RETURN n;
END
$$;
