-- Outcomes per source and endpoint in five-minute buckets (the console's overview).
CREATE TABLE activity_counts (
    org         TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    subject_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (org, bucket, subject_id, outcome)
) WITHOUT ROWID;
CREATE INDEX activity_counts_by_bucket ON activity_counts (bucket);
