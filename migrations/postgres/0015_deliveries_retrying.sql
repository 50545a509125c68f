-- One endpoint's retrying deliveries (pending and tried), newest first: at 2.7 M
-- deliveries the list read all of that endpoint's entries of deliveries_by_endpoint and
-- ANDed them with deliveries_due (169 ms median, 280 ms p99). Only tried-and-pending
-- rows are in this index: a delivery enters it when an attempt fails and leaves it when
-- one succeeds or it gives up, updates that are never HOT anyway (they move the
-- delivery out of or within deliveries_due), so a first attempt that succeeds costs it
-- nothing.
CREATE INDEX IF NOT EXISTS deliveries_retrying ON deliveries (endpoint_id, id)
    WHERE status = 'pending' AND attempts > 0;
