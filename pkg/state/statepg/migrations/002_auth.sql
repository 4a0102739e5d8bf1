-- API tokens (only the SHA-256 of the secret) and the audit log of mutating requests.

CREATE TABLE api_tokens (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL,
    hash        text NOT NULL UNIQUE,
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL DEFAULT '',
    role     text NOT NULL DEFAULT '',
    action   text NOT NULL,
    method   text NOT NULL DEFAULT '',
    path     text NOT NULL DEFAULT '',
    target   text NOT NULL DEFAULT '',
    status   integer NOT NULL DEFAULT 0,
    details  jsonb
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
