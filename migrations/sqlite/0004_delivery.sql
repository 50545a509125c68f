-- Embedded-mode mirror of migrations/postgres/0004_delivery.sql (times in unix ms,
-- lists and objects as JSON text).
CREATE TABLE endpoints (
    id                TEXT PRIMARY KEY,
    org               TEXT NOT NULL REFERENCES orgs (slug),
    url               TEXT NOT NULL,
    description       TEXT NOT NULL,
    event_types       TEXT NOT NULL,
    workflow_ids      TEXT NOT NULL,
    enabled           INTEGER NOT NULL,
    disabled_reason   TEXT,
    timeout_ms        INTEGER NOT NULL,
    rate_limit_per_s  INTEGER,
    retry_schedule    TEXT,
    failing_since     INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    deleted_at        INTEGER
);
CREATE INDEX endpoints_by_org ON endpoints (org, id);

CREATE TABLE run_events (
    org          TEXT NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    run_id       TEXT,
    workflow_id  TEXT,
    occurred_at  INTEGER NOT NULL,
    data         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (org, id)
);

CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    org               TEXT NOT NULL,
    endpoint_id       TEXT NOT NULL REFERENCES endpoints (id),
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   INTEGER,
    claim_expires_at  INTEGER,
    last_status       INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_org ON deliveries (org, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE delivery_attempts (
    delivery_id       TEXT NOT NULL REFERENCES deliveries (id),
    attempt           INTEGER NOT NULL,
    started_at        INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    request_url       TEXT NOT NULL,
    request_headers   TEXT NOT NULL,
    response_status   INTEGER,
    response_headers  TEXT,
    response_body     BLOB,
    error_class       TEXT,
    next_attempt_at   INTEGER,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (started_at);
