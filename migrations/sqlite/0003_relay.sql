-- Embedded-mode mirror of migrations/postgres/0003_relay.sql.
CREATE INDEX outbox_by_age ON outbox (enqueued_at);

CREATE TABLE run_idempotency (
    org         TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org, key)
);

CREATE INDEX runs_by_org_status ON runs (org, status, id);
