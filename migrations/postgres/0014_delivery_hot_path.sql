-- Deliveries and attempts are written once per delivery and once per attempt, by
-- hookgate alone, and neither endpoints nor deliveries are ever deleted (an endpoint is
-- soft-deleted with deleted_at). The two foreign keys below therefore guarded against
-- nothing the code does, but each insert paid for a row lock on the referenced row: a
-- fan-out to a few endpoints locks the same few endpoint rows from every concurrent
-- batch (shared locks by many transactions become MultiXacts), and each attempt locked
-- its delivery just before updating it. BENCHMARKS.md ("Delivery") has the figures.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_endpoint_id_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_id_fkey;
