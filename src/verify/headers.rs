//! Strict header reading: one header line or none, never a guess between two.

use std::borrow::Cow;

use http::header::GetAll;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::config::header_name;
use super::error::Rejection;

/// A header to read: a fixed [`HeaderName`], or a [`Configured`] one.
pub(crate) trait Key: Copy {
    fn get_all(self, headers: &HeaderMap) -> GetAll<'_, HeaderValue>;
    /// `make` applied to the header's name, for a rejection that names it.
    fn reject(self, make: fn(HeaderName) -> Rejection) -> Rejection;
}

impl Key for &HeaderName {
    fn get_all(self, headers: &HeaderMap) -> GetAll<'_, HeaderValue> {
        headers.get_all(self)
    }
    fn reject(self, make: fn(HeaderName) -> Rejection) -> Rejection {
        make(self.clone())
    }
}

/// A header name from a verifier's configuration, already checked by its validation and
/// looked up as text, so that a request pays for no `HeaderName` (a custom name
/// allocates); one is built only to name the header in a rejection.
#[derive(Clone, Copy)]
pub(crate) struct Configured<'a> {
    pub(crate) field: &'static str,
    pub(crate) raw: &'a str,
}

impl Key for Configured<'_> {
    fn get_all(self, headers: &HeaderMap) -> GetAll<'_, HeaderValue> {
        // `&str` lookups are case-insensitive, as `HeaderName` is.
        headers.get_all(self.raw)
    }
    fn reject(self, make: fn(HeaderName) -> Rejection) -> Rejection {
        match header_name(self.field, self.raw) {
            Ok(name) => make(name),
            Err(invalid) => Rejection::InvalidConfig(invalid),
        }
    }
}

/// The value of `name`, if sent exactly once and non-empty.
///
/// - Two or more lines: `DuplicateHeader`. Every official library we mirror reads one
///   string; with two lines they would see either the first, the last or a comma-joined
///   pair depending on the framework, so the request is ambiguous.
/// - Leading/trailing SP/HTAB is removed: RFC 9110 §5.5 excludes it from the field value,
///   and HTTP servers strip it before any library sees the header.
/// - Empty after trimming counts as absent, as in every library (`if not header`).
/// - Bytes outside visible ASCII: `MalformedHeader` (no scheme we verify uses them).
pub(crate) fn single(headers: &HeaderMap, name: impl Key) -> Result<Option<&str>, Rejection> {
    let mut values = name.get_all(headers).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(name.reject(Rejection::DuplicateHeader));
    }
    let text = first
        .to_str()
        .map_err(|_| name.reject(Rejection::MalformedHeader))?;
    let text = text.trim_matches([' ', '\t']);
    Ok((!text.is_empty()).then_some(text))
}

/// Like [`single`], but absence is `MissingHeader`.
pub(crate) fn required(headers: &HeaderMap, name: impl Key) -> Result<&str, Rejection> {
    single(headers, name)?.ok_or_else(|| name.reject(Rejection::MissingHeader))
}

/// An optional header as a [`Verified`](super::Verified) field (dedup key, event name).
pub(crate) fn optional_field(
    headers: &HeaderMap,
    name: impl Key,
) -> Result<Option<Cow<'_, str>>, Rejection> {
    Ok(single(headers, name)?.map(Cow::Borrowed))
}
