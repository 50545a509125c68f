-- A webhook run's message embeds the event body verbatim, and the body is already in
-- `events`: the outbox keeps only the message around it (`message` before the body,
-- `message_tail` after it, `body_event_id` naming the event), so each accepted webhook
-- writes its body to the WAL once instead of twice. Messages that do not embed the body
-- verbatim (API-triggered runs, non-JSON bodies carried as base64) stay whole in
-- `message`, with `message_tail` NULL.
ALTER TABLE outbox
    ADD COLUMN message_tail bytea,
    ADD COLUMN body_event_id text;

-- Since 0006 a published run's stored status stays 'queued', so nearly every run shares
-- one status and this index only cost an insert per run; listing by status walks
-- runs_by_org (org, id) in page order instead.
DROP INDEX runs_by_org_status;
