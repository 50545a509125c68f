-- The payload janitor drops an expired body by rewriting its event row (body '',
-- body_expired). With full pages that rewrite is a new row version on another page
-- plus an entry in each of the three indexes; with room left on the page it is a HOT
-- update that touches no index. Measured on 51,200 1 KiB events: 46 µs and 683 B of WAL
-- per expired body at fillfactor 100, 8 µs and 118 B at 70, the insert's own cost
-- unchanged (BENCHMARKS.md, "Expiring payloads"). Applies to pages written from now on.
ALTER TABLE events SET (fillfactor = 70);
