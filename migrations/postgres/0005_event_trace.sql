-- Run events keep the trace they arrived with, so deliveries continue it (SPEC §8).
ALTER TABLE run_events ADD COLUMN traceparent text;
