-- When a delivery was last tried, for its list row (SPEC §7.1). Written with the
-- attempt that moves the delivery on; older rows take it from their attempt log.
ALTER TABLE deliveries ADD COLUMN last_attempt_at INTEGER;
UPDATE deliveries SET last_attempt_at =
    (SELECT max(started_at) FROM delivery_attempts a WHERE a.delivery_id = deliveries.id);
