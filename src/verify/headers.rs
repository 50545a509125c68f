//! Strict header reading: one header line or none, never a guess between two.

use http::{HeaderMap, HeaderName};

use super::error::Rejection;

/// The value of `name`, if sent exactly once and non-empty.
///
/// - Two or more lines: `DuplicateHeader`. Every official library we mirror reads one
///   string; with two lines they would see either the first, the last or a comma-joined
///   pair depending on the framework, so the request is ambiguous.
/// - Leading/trailing SP/HTAB is removed: RFC 9110 §5.5 excludes it from the field value,
///   and HTTP servers strip it before any library sees the header.
/// - Empty after trimming counts as absent, as in every library (`if not header`).
/// - Bytes outside visible ASCII: `MalformedHeader` (no scheme we verify uses them).
pub(crate) fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::DuplicateHeader(name.clone()));
    }
    let text = first
        .to_str()
        .map_err(|_| Rejection::MalformedHeader(name.clone()))?;
    let text = text.trim_matches([' ', '\t']);
    Ok((!text.is_empty()).then_some(text))
}

/// Like [`single`], but absence is `MissingHeader`.
pub(crate) fn required<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<&'h str, Rejection> {
    single(headers, name)?.ok_or_else(|| Rejection::MissingHeader(name.clone()))
}

/// An optional header as an owned string, for dedup keys and event names.
pub(crate) fn optional_owned(
    headers: &HeaderMap,
    name: &HeaderName,
) -> Result<Option<String>, Rejection> {
    Ok(single(headers, name)?.map(str::to_owned))
}
