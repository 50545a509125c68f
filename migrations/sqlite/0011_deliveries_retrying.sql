-- One endpoint's retrying deliveries (pending and tried), newest first, as in
-- PostgreSQL (migrations/postgres/0015_deliveries_retrying.sql).
CREATE INDEX IF NOT EXISTS deliveries_retrying ON deliveries (endpoint_id, id)
    WHERE status = 'pending' AND attempts > 0;
