-- The relay claims outbox rows oldest first; the trigger API remembers idempotency keys.
CREATE INDEX outbox_by_age ON outbox (enqueued_at);

CREATE TABLE run_idempotency (
    org         text NOT NULL,
    key         text NOT NULL,
    body_hash   text NOT NULL,
    run_id      text NOT NULL REFERENCES runs (id),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (org, key)
);

CREATE INDEX runs_by_org_status ON runs (org, status, id);
