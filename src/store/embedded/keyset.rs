//! Keyset pagination, the one way every list pages: newest id first, `limit + 1` rows
//! fetched (the extra one only says there is a next page), the cursor being the last
//! id of the previous page.

use super::query_all;
use crate::store::{Page, PageRequest, StoreError};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Row};

/// One page of `select`, which is a query up to and including its WHERE conditions
/// over `params` (`?1`…`?n`): the rows whose `id` is before `page.before` when there is
/// one (bound as `?n+1`), by `id` descending, at most `page.limit + 1` of them (bound
/// as `?n+2`).
pub(super) fn keyset_page<T>(
    conn: &Connection,
    select: &str,
    params: &[&dyn ToSql],
    page: &PageRequest,
    from_row: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    id_of: impl Fn(&T) -> &str,
) -> Result<Page<T>, StoreError> {
    let (before, limit) = (params.len() + 1, params.len() + 2);
    let sql = format!(
        "{select} AND (?{before} IS NULL OR id < ?{before}) ORDER BY id DESC LIMIT ?{limit}"
    );
    let probe = page.limit as i64 + 1;
    let mut all = params.to_vec();
    all.extend([&page.before as &dyn ToSql, &probe]);
    let items = query_all(conn, &sql, all.as_slice(), from_row)?;
    Ok(Page::from_overfetch(items, page.limit, id_of))
}
