//! Outcome counts per source and endpoint in SQLite.

use super::{millis, EmbeddedStore};
use crate::store::{ActivityCount, ActivityStore, ActivityTotal, OrgSlug, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

#[async_trait]
impl ActivityStore for EmbeddedStore {
    async fn add_activity(&self, counts: &[ActivityCount]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let counts = counts.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut add = tx.prepare_cached(
                    "INSERT INTO activity_counts (org, bucket, subject_id, outcome, count)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (org, bucket, subject_id, outcome)
                     DO UPDATE SET count = count + excluded.count",
                )?;
                for count in &counts {
                    add.execute(params![
                        count.org.as_str(),
                        millis(&count.bucket),
                        count.subject_id,
                        count.outcome,
                        i64::try_from(count.count).unwrap_or(i64::MAX)
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn activity_since(
        &self,
        orgs: &[OrgSlug],
        since: DateTime<Utc>,
    ) -> Result<Vec<ActivityTotal>, StoreError> {
        let orgs: Vec<String> = orgs.iter().map(|o| o.as_str().to_owned()).collect();
        self.with_conn(move |conn| {
            let mut totals = Vec::new();
            let mut read = conn.prepare_cached(
                "SELECT subject_id, outcome, sum(count) FROM activity_counts
                 WHERE org = ?1 AND bucket >= ?2
                 GROUP BY subject_id, outcome ORDER BY subject_id, outcome",
            )?;
            for org in &orgs {
                let rows = read.query_map(params![org, millis(&since)], |row| {
                    Ok(ActivityTotal {
                        subject_id: row.get(0)?,
                        outcome: row.get(1)?,
                        count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })?;
                for total in rows {
                    totals.push(total?);
                }
            }
            Ok(totals)
        })
        .await
    }

    async fn prune_activity(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = millis(&before);
        self.with_conn(move |conn| {
            Ok(conn.execute(
                "DELETE FROM activity_counts WHERE bucket < ?1",
                params![before],
            )? as u64)
        })
        .await
    }
}
