-- Outcomes per source and endpoint in five-minute buckets, for the console's overview.
-- Each instance adds its counts every few seconds; the janitor deletes old buckets.
-- Keyed org first, bucket second: the overview reads an org's last hour as one range.
CREATE TABLE activity_counts (
    org         text NOT NULL,
    bucket      timestamptz NOT NULL,
    subject_id  text NOT NULL,
    outcome     text NOT NULL,
    count       bigint NOT NULL,
    PRIMARY KEY (org, bucket, subject_id, outcome)
);
CREATE INDEX activity_counts_by_bucket ON activity_counts (bucket);
