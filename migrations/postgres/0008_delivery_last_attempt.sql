-- When a delivery was last tried, for its list row (SPEC §7.1). Written with the
-- attempt that moves the delivery on; older rows take it from their attempt log.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS last_attempt_at timestamptz;
UPDATE deliveries d SET last_attempt_at = a.started_at
FROM (SELECT delivery_id, max(started_at) AS started_at FROM delivery_attempts GROUP BY delivery_id) a
WHERE a.delivery_id = d.id AND d.last_attempt_at IS NULL;
