-- Embedded-mode mirror of migrations/postgres/0001_init.sql. Times are unix milliseconds.
CREATE TABLE orgs (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    org         TEXT NOT NULL REFERENCES orgs (slug),
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL, -- JSON array of scope names
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys (org, id);

CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    org      TEXT NOT NULL REFERENCES orgs (slug),
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    details  TEXT NOT NULL, -- JSON
    at       INTEGER NOT NULL
);
CREATE INDEX audit_log_by_org ON audit_log (org, id);
