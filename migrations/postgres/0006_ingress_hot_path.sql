-- Ingress hot path (SPEC §10). The relay claims outbox rows in run-id order (ids are
-- time-ordered), so the outbox keeps only its primary key; its foreign key to runs
-- cost a lookup and a row lock on the new run for every accepted webhook, and runs
-- and outbox rows are only ever written together in one transaction anyway.
ALTER TABLE outbox DROP CONSTRAINT outbox_run_id_fkey;
DROP INDEX outbox_by_age;

-- The message to publish lives with its outbox row, not with the run: it goes when
-- the broker confirms it, and the run row stays small. Marking a run published then
-- changes no indexed column (its stored status stays 'queued'; "published" is read
-- from published_at), so with room left on each page it is a HOT update: no new
-- index entries, no second copy of the row's indexes.
ALTER TABLE outbox
    ADD COLUMN workflow_id text,
    ADD COLUMN message bytea,
    ADD COLUMN message_headers jsonb;
UPDATE outbox o SET workflow_id = r.workflow_id, message = r.message,
                    message_headers = r.message_headers
    FROM runs r WHERE r.id = o.run_id;
DELETE FROM outbox WHERE message IS NULL;
ALTER TABLE outbox
    ALTER COLUMN workflow_id SET NOT NULL,
    ALTER COLUMN message SET NOT NULL,
    ALTER COLUMN message_headers SET NOT NULL;
ALTER TABLE runs DROP COLUMN message, DROP COLUMN message_headers;
UPDATE runs SET status = 'queued' WHERE status = 'published';
ALTER TABLE runs SET (fillfactor = 85);
-- A claimed row is updated in place (the claim path: runs of other or dead instances,
-- or a backlog beyond the handoff); room on its page keeps that a HOT update too.
ALTER TABLE outbox SET (fillfactor = 50);
-- A queue table: rows live for milliseconds. Vacuum it often, so claims (which walk
-- the primary key from the oldest run) do not wade through dead entries when a
-- backlog has built up.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
                        autovacuum_vacuum_cost_delay = 0);
