-- The relay claims outbox rows in run-id order (ids are time-ordered), so the outbox
-- keeps only its primary key.
DROP INDEX outbox_by_age;
