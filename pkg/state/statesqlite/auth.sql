-- API tokens and the audit log; applied after schema.sql. Times are INTEGER
-- unix microseconds (UTC), JSON is TEXT.
CREATE TABLE IF NOT EXISTS api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE IF NOT EXISTS audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL DEFAULT '',
    role     TEXT NOT NULL DEFAULT '',
    action   TEXT NOT NULL,
    method   TEXT NOT NULL DEFAULT '',
    path     TEXT NOT NULL DEFAULT '',
    target   TEXT NOT NULL DEFAULT '',
    status   INTEGER NOT NULL DEFAULT 0,
    details  TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, id);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, id);
