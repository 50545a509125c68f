-- The ingress event log (SPEC §11): each event names its run, counts the duplicates
-- it answered, keeps its body's size after the body itself expires, and can be found
-- by the sender's delivery id (its de-dup key).
ALTER TABLE events
    ADD COLUMN run_id text,
    ADD COLUMN body_bytes integer,
    ADD COLUMN body_expired boolean NOT NULL DEFAULT false,
    ADD COLUMN duplicates integer NOT NULL DEFAULT 0,
    ADD COLUMN last_duplicate_at timestamptz;
UPDATE events e SET run_id = r.id FROM runs r WHERE r.event_id = e.id;
UPDATE events SET body_bytes = octet_length(body);
ALTER TABLE events ALTER COLUMN body_bytes SET NOT NULL;
CREATE INDEX events_by_dedup_key ON events (source_id, dedup_key) WHERE dedup_key IS NOT NULL;
-- Quiet sources: an alarm when a source stops receiving.
ALTER TABLE sources ADD COLUMN quiet_after_s integer;
-- A run's events in order (SPEC §12): `seq` 1, 2, … per (org, run), in the order
-- hookgate recorded them; earlier events are numbered by when they were received.
ALTER TABLE run_events ADD COLUMN seq integer;
UPDATE run_events e SET seq = n.seq
FROM (SELECT org, id, row_number() OVER (PARTITION BY org, run_id ORDER BY received_at, id) AS seq
      FROM run_events WHERE run_id IS NOT NULL) n
WHERE e.org = n.org AND e.id = n.id;
CREATE UNIQUE INDEX run_events_by_run ON run_events (org, run_id, seq) WHERE run_id IS NOT NULL;
-- What exactly a sampled rejection failed on, for the SRE (never a secret or a body).
ALTER TABLE ingress_rejections ADD COLUMN detail text;
-- Cancel requests (SPEC §12): when one was asked for. Its message waits in the outbox
-- beside runs' own, under its message id `<run_id>.cancel`.
ALTER TABLE runs ADD COLUMN cancel_requested_at timestamptz;
-- Retries (SPEC §12): a run started again from another keeps its input when nothing
-- else does (API-triggered runs and retries; a webhook's input is its event's body),
-- and names the run it retries.
ALTER TABLE runs ADD COLUMN input bytea, ADD COLUMN retry_of text;
