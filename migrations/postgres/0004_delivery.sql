-- Execution hooks (SPEC §6): endpoints, run events, one delivery per (event, endpoint),
-- and every attempt.
CREATE TABLE endpoints (
    id                text PRIMARY KEY,
    org               text NOT NULL REFERENCES orgs (slug),
    url               text NOT NULL,
    description       text NOT NULL,
    event_types       text[] NOT NULL,
    workflow_ids      text[] NOT NULL,
    enabled           boolean NOT NULL,
    disabled_reason   text,
    timeout_ms        integer NOT NULL,
    rate_limit_per_s  integer,
    retry_schedule    text,
    failing_since     timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    deleted_at        timestamptz
);
CREATE INDEX endpoints_by_org ON endpoints (org, id) WHERE deleted_at IS NULL;

CREATE TABLE run_events (
    org          text NOT NULL,
    id           text NOT NULL,
    type         text NOT NULL,
    run_id       text,
    workflow_id  text,
    occurred_at  timestamptz NOT NULL,
    data         jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (org, id)
);

CREATE TABLE deliveries (
    id                text PRIMARY KEY,
    org               text NOT NULL,
    endpoint_id       text NOT NULL REFERENCES endpoints (id),
    event_id          text NOT NULL,
    event_type        text NOT NULL,
    status            text NOT NULL,
    attempts          integer NOT NULL,
    next_attempt_at   timestamptz,
    claim_expires_at  timestamptz,
    last_status       integer,
    last_error        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_org ON deliveries (org, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);

CREATE TABLE delivery_attempts (
    delivery_id       text NOT NULL REFERENCES deliveries (id),
    attempt           integer NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_ms       integer NOT NULL,
    request_url       text NOT NULL,
    request_headers   jsonb NOT NULL,
    response_status   integer,
    response_headers  jsonb,
    response_body     bytea,
    error_class       text,
    next_attempt_at   timestamptz,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (started_at);
