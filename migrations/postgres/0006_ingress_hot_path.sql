-- Ingress hot path (SPEC §10). The relay claims outbox rows in run-id order (ids are
-- time-ordered), so the outbox keeps only its primary key; its foreign key to runs
-- cost a lookup and a row lock on the new run for every accepted webhook, and runs
-- and outbox rows are only ever written together in one transaction anyway.
ALTER TABLE outbox DROP CONSTRAINT outbox_run_id_fkey;
DROP INDEX outbox_by_age;
