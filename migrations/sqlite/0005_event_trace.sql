-- Embedded-mode mirror of migrations/postgres/0005_event_trace.sql.
ALTER TABLE run_events ADD COLUMN traceparent TEXT;
