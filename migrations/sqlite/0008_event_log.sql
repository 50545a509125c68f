-- The ingress event log (SPEC §11): each event names its run, counts the duplicates
-- it answered, keeps its body's size after the body itself expires, and can be found
-- by the sender's delivery id (its de-dup key).
ALTER TABLE events ADD COLUMN run_id TEXT;
ALTER TABLE events ADD COLUMN body_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN body_expired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN last_duplicate_at INTEGER;
UPDATE events SET run_id = (SELECT r.id FROM runs r WHERE r.event_id = events.id);
UPDATE events SET body_bytes = length(body);
CREATE INDEX events_by_dedup_key ON events (source_id, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX events_by_org ON events (org, id);
-- Quiet sources: an alarm when a source stops receiving.
ALTER TABLE sources ADD COLUMN quiet_after_s INTEGER;
-- A run's events in order (SPEC §12): `seq` 1, 2, … per (org, run), in the order
-- hookgate recorded them; earlier events are numbered by when they were received.
ALTER TABLE run_events ADD COLUMN seq INTEGER;
UPDATE run_events SET seq = (
    SELECT count(*) FROM run_events p
    WHERE p.org = run_events.org AND p.run_id = run_events.run_id
      AND (p.received_at < run_events.received_at
           OR (p.received_at = run_events.received_at AND p.id <= run_events.id)))
WHERE run_id IS NOT NULL;
CREATE UNIQUE INDEX run_events_by_run ON run_events (org, run_id, seq) WHERE run_id IS NOT NULL;
-- What exactly a sampled rejection failed on, for the SRE (never a secret or a body).
ALTER TABLE ingress_rejections ADD COLUMN detail TEXT;
-- Cancel requests (SPEC §12): when one was asked for. Its message waits in the outbox
-- beside runs' own, under its message id `<run_id>.cancel`; such a row carries its
-- message itself, so the outbox no longer refers to runs.
ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
CREATE TABLE outbox_new (
    run_id            TEXT PRIMARY KEY,
    enqueued_at       INTEGER NOT NULL,
    claim_expires_at  INTEGER,
    workflow_id       TEXT,
    message           BLOB,
    message_headers   TEXT
);
INSERT INTO outbox_new (run_id, enqueued_at, claim_expires_at)
    SELECT run_id, enqueued_at, claim_expires_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
-- Retries (SPEC §12): a run started again from another keeps its input when nothing
-- else does (API-triggered runs and retries; a webhook's input is its event's body),
-- and names the run it retries.
ALTER TABLE runs ADD COLUMN input BLOB;
ALTER TABLE runs ADD COLUMN retry_of TEXT;
