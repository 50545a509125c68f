//! Console sessions in SQLite.

use super::{from_millis, millis, EmbeddedStore};
use crate::store::{ConsoleSession, ConsoleSessionStore, SessionHolder, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

#[async_trait]
impl ConsoleSessionStore for EmbeddedStore {
    async fn insert_console_session(&self, session: &ConsoleSession) -> Result<(), StoreError> {
        let session = session.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO console_sessions
                     (token_hash, holder, csrf_token, created_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    session.token_hash,
                    session.holder.to_stored(),
                    session.csrf_token,
                    millis(&session.created_at),
                    millis(&session.last_seen_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn find_console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    "SELECT token_hash, holder, csrf_token, created_at, last_seen_at
                     FROM console_sessions WHERE token_hash = ?1",
                    params![token_hash],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, i64>(4)?,
                        ))
                    },
                )
                .optional()?;
            row.map(
                |(token_hash, holder, csrf_token, created_at, last_seen_at)| {
                    Ok(ConsoleSession {
                        token_hash,
                        holder: SessionHolder::from_stored(&holder).ok_or_else(|| {
                            StoreError::Corrupt(format!("session holder {holder:?}"))
                        })?,
                        csrf_token,
                        created_at: from_millis(created_at)?,
                        last_seen_at: from_millis(last_seen_at)?,
                    })
                },
            )
            .transpose()
        })
        .await
    }

    async fn touch_console_session(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (token_hash, at) = (token_hash.to_owned(), millis(&at));
        self.with_conn(move |conn| {
            conn.execute(
                "UPDATE console_sessions SET last_seen_at = ?2
                 WHERE token_hash = ?1 AND last_seen_at < ?2",
                params![token_hash, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_console_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        self.with_conn(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1",
                params![token_hash],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn delete_idle_console_sessions(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let idle_since = millis(&idle_since);
        self.with_conn(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM console_sessions WHERE last_seen_at < ?1",
                params![idle_since],
            )?;
            Ok(deleted as u64)
        })
        .await
    }
}
