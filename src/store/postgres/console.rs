//! Console sessions in PostgreSQL.

use super::PostgresStore;
use crate::store::{ConsoleSession, ConsoleSessionStore, SessionHolder, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl ConsoleSessionStore for PostgresStore {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &client
                    .prepare_cached(
                        "INSERT INTO console_sessions
                             (token_hash, holder, csrf_token, created_at, last_seen_at)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .await?,
                &[
                    &session.token_hash,
                    &session.holder.to_stored(),
                    &session.csrf_token,
                    &session.created_at,
                    &session.last_seen_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn find_console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(
                        "SELECT token_hash, holder, csrf_token, created_at, last_seen_at
                         FROM console_sessions WHERE token_hash = $1",
                    )
                    .await?,
                &[&token_hash],
            )
            .await?;
        row.map(|row| {
            let holder: String = row.get(1);
            Ok(ConsoleSession {
                token_hash: row.get(0),
                holder: SessionHolder::from_stored(&holder)
                    .ok_or_else(|| StoreError::Corrupt(format!("session holder {holder:?}")))?,
                csrf_token: row.get(2),
                created_at: row.get(3),
                last_seen_at: row.get(4),
            })
        })
        .transpose()
    }

    async fn touch_console_session(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &client
                    .prepare_cached(
                        "UPDATE console_sessions SET last_seen_at = $2
                         WHERE token_hash = $1 AND last_seen_at < $2",
                    )
                    .await?,
                &[&token_hash, &at],
            )
            .await?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                &client
                    .prepare_cached("DELETE FROM console_sessions WHERE token_hash = $1")
                    .await?,
                &[&token_hash],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn delete_idle_console_sessions(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                &client
                    .prepare_cached("DELETE FROM console_sessions WHERE last_seen_at < $1")
                    .await?,
                &[&idle_since],
            )
            .await?)
    }
}
