//! Keyset pagination, the one way every list pages: newest id first, `limit + 1` rows
//! fetched (the extra one only says there is a next page), the cursor being the last
//! id of the previous page.

use super::PostgresStore;
use crate::store::{Page, PageRequest, StoreError};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

impl PostgresStore {
    /// One page of `select`, which is a query up to and including its WHERE conditions
    /// over `params` (`$1`…`$n`): the rows whose `id` (column, as `select` names it)
    /// is before `page.before` when there is one (bound as `$n+1`), by `id`
    /// descending, at most `page.limit + 1` of them (bound as `$n+2`).
    pub(super) async fn keyset_page<T>(
        &self,
        select: &str,
        id: &str,
        params: &[&(dyn ToSql + Sync)],
        page: &PageRequest,
        from_row: impl Fn(&Row) -> Result<T, StoreError>,
        id_of: impl Fn(&T) -> &str,
    ) -> Result<Page<T>, StoreError> {
        let (before, limit) = (params.len() + 1, params.len() + 2);
        let sql = format!(
            "{select} AND (${before}::text IS NULL OR {id} < ${before})
             ORDER BY {id} DESC LIMIT ${limit}"
        );
        let probe = page.limit as i64 + 1;
        let mut all = params.to_vec();
        all.extend([&page.before as &(dyn ToSql + Sync), &probe]);
        let client = self.client().await?;
        let rows = client.query(&sql, &all).await?;
        let items = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, id_of))
    }
}
