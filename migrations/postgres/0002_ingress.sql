-- Sources, their secrets (shared shape with outbound endpoints later), inbound events,
-- runs with their outbox, the de-dup window and a bounded sample of rejections.
CREATE TABLE sources (
    id              text PRIMARY KEY,
    org             text NOT NULL REFERENCES orgs (slug),
    name            text NOT NULL,
    workflow_id     text NOT NULL,
    verifier        jsonb NOT NULL,
    enabled         boolean NOT NULL,
    event_filter    text[] NOT NULL,
    max_body_bytes  bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz
);
CREATE INDEX sources_by_org ON sources (org, id) WHERE deleted_at IS NULL;

-- owner_id is a source id (src_…) or, later, an endpoint id (ep_…).
CREATE TABLE secrets (
    id            text PRIMARY KEY,
    owner_id      text NOT NULL,
    sealed        text NOT NULL,
    fingerprint   text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX secrets_by_owner ON secrets (owner_id, created_at);

CREATE TABLE events (
    id           text PRIMARY KEY,
    org          text NOT NULL,
    source_id    text NOT NULL,
    dedup_key    text,
    event_name   text,
    secret_id    text NOT NULL,
    disposition  text NOT NULL,
    traceparent  text NOT NULL,
    headers      jsonb NOT NULL,
    body         bytea NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX events_by_source ON events (source_id, id);

CREATE TABLE runs (
    id              text PRIMARY KEY,
    org             text NOT NULL,
    workflow_id     text NOT NULL,
    trigger_type    text NOT NULL,
    source_id       text,
    event_id        text,
    status          text NOT NULL,
    message         bytea NOT NULL,
    message_headers jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    published_at    timestamptz
);
CREATE INDEX runs_by_org ON runs (org, id);

-- Runs waiting to be published to the broker (SPEC §4); the relay claims rows.
CREATE TABLE outbox (
    run_id            text PRIMARY KEY REFERENCES runs (id),
    enqueued_at       timestamptz NOT NULL,
    claim_expires_at  timestamptz
);

CREATE TABLE ingress_dedup (
    source_id   text NOT NULL,
    dedup_key   text NOT NULL,
    event_id    text NOT NULL,
    run_id      text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (source_id, dedup_key)
);

CREATE TABLE ingress_rejections (
    id               text PRIMARY KEY,
    source_id        text NOT NULL,
    at               timestamptz NOT NULL,
    reason           text NOT NULL,
    headers_present  text[] NOT NULL
);
CREATE INDEX ingress_rejections_by_source ON ingress_rejections (source_id, id);
