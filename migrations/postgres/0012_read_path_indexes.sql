-- Read paths at scale (SPEC §10: lists p99 ≤ 50 ms with 2 M events). Listing a
-- source's ignored or handshake events walked `events_by_source` through every
-- accepted event: a source whose only handshake is its first event was read whole.
-- The index holds only events that are not accepted (a few percent; none of the ingress
-- hot path's accepted inserts), by status, newest first within a source. `disposition`
-- is never updated, so updates of an event stay HOT.
CREATE INDEX events_by_source_unaccepted ON events (source_id, disposition, id)
    WHERE disposition <> 'accepted';
