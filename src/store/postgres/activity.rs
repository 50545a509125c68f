//! Outcome counts per source and endpoint in PostgreSQL.

use super::PostgresStore;
use crate::store::{ActivityCount, ActivityStore, ActivityTotal, OrgSlug, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl ActivityStore for PostgresStore {
    async fn add_activity(&self, counts: &[ActivityCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let orgs: Vec<&str> = counts.iter().map(|c| c.org.as_str()).collect();
        let buckets: Vec<DateTime<Utc>> = counts.iter().map(|c| c.bucket).collect();
        let subjects: Vec<&str> = counts.iter().map(|c| c.subject_id.as_str()).collect();
        let outcomes: Vec<&str> = counts.iter().map(|c| c.outcome.as_str()).collect();
        let added: Vec<i64> = counts
            .iter()
            .map(|c| i64::try_from(c.count).unwrap_or(i64::MAX))
            .collect();
        let client = self.client().await?;
        // Summed and sorted first: one row per key (ON CONFLICT may touch a row once
        // per statement), locked in one order by every instance.
        client
            .execute(
                &client
                    .prepare_cached(
                        "INSERT INTO activity_counts (org, bucket, subject_id, outcome, count)
                         SELECT org, bucket, subject_id, outcome, sum(n)
                         FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[],
                                     $5::bigint[]) AS c(org, bucket, subject_id, outcome, n)
                         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                         ON CONFLICT (org, bucket, subject_id, outcome)
                         DO UPDATE SET count = activity_counts.count + EXCLUDED.count",
                    )
                    .await?,
                &[&orgs, &buckets, &subjects, &outcomes, &added],
            )
            .await?;
        Ok(())
    }

    async fn activity_since(
        &self,
        orgs: &[OrgSlug],
        since: DateTime<Utc>,
    ) -> Result<Vec<ActivityTotal>, StoreError> {
        let orgs: Vec<&str> = orgs.iter().map(OrgSlug::as_str).collect();
        let client = self.client().await?;
        let rows = client
            .query(
                &client
                    .prepare_cached(
                        "SELECT subject_id, outcome, sum(count)::bigint FROM activity_counts
                         WHERE org = ANY($1) AND bucket >= $2
                         GROUP BY subject_id, outcome ORDER BY subject_id, outcome",
                    )
                    .await?,
                &[&orgs, &since],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| ActivityTotal {
                subject_id: row.get(0),
                outcome: row.get(1),
                count: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
            })
            .collect())
    }

    async fn prune_activity(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM activity_counts WHERE bucket < $1", &[&before])
            .await?)
    }
}
