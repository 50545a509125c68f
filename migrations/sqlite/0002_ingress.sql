-- Embedded-mode mirror of migrations/postgres/0002_ingress.sql. Times are unix ms,
-- lists and objects are JSON text.
CREATE TABLE sources (
    id              TEXT PRIMARY KEY,
    org             TEXT NOT NULL REFERENCES orgs (slug),
    name            TEXT NOT NULL,
    workflow_id     TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    event_filter    TEXT NOT NULL,
    max_body_bytes  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
);
CREATE INDEX sources_by_org ON sources (org, id);

CREATE TABLE secrets (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    sealed        TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX secrets_by_owner ON secrets (owner_id, created_at);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    org          TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    dedup_key    TEXT,
    event_name   TEXT,
    secret_id    TEXT NOT NULL,
    disposition  TEXT NOT NULL,
    traceparent  TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX events_by_source ON events (source_id, id);

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    org             TEXT NOT NULL,
    workflow_id     TEXT NOT NULL,
    trigger_type    TEXT NOT NULL,
    source_id       TEXT,
    event_id        TEXT,
    status          TEXT NOT NULL,
    message         BLOB NOT NULL,
    message_headers TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    published_at    INTEGER
);
CREATE INDEX runs_by_org ON runs (org, id);

CREATE TABLE outbox (
    run_id            TEXT PRIMARY KEY REFERENCES runs (id),
    enqueued_at       INTEGER NOT NULL,
    claim_expires_at  INTEGER
);

CREATE TABLE ingress_dedup (
    source_id   TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, dedup_key)
);

CREATE TABLE ingress_rejections (
    id               TEXT PRIMARY KEY,
    source_id        TEXT NOT NULL,
    at               INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    headers_present  TEXT NOT NULL
);
CREATE INDEX ingress_rejections_by_source ON ingress_rejections (source_id, id);
