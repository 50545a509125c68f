//! Strict header reading: one header line or none, never a guess between two.

use std::borrow::Cow;

use http::header::GetAll;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::config::header_name;
use super::error::Rejection;
use super::timestamp::parse_unix_seconds;

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
    let first = values.next();
    checked(first, values.next().is_some(), name)
}

/// [`single`]'s verdict on a header's first line and whether another line came.
fn checked(
    first: Option<&HeaderValue>,
    repeated: bool,
    name: impl Key,
) -> Result<Option<&str>, Rejection> {
    let Some(first) = first else {
        return Ok(None);
    };
    if repeated {
        return Err(name.reject(Rejection::DuplicateHeader));
    }
    let text = visible_ascii(first).ok_or_else(|| name.reject(Rejection::MalformedHeader))?;
    Ok((!text.is_empty()).then_some(text))
}

/// The value as text without leading and trailing spaces and tabs, if every byte is
/// visible ASCII or a tab. `to_str` tests each byte once and needs no second pass to
/// make the text: a separate vectorised test followed by `from_utf8` cost twice as much
/// on the 10- to 71-byte values read on every request (~20 against ~10 ns a value).
fn visible_ascii(value: &HeaderValue) -> Option<&str> {
    // Spaces and tabs are the only whitespace `to_str` lets through.
    value.to_str().ok().map(str::trim_ascii)
}

/// A header value of the one-secret shape [`timestamp_then_signature`] reads.
pub(crate) struct TimestampThenSignature<'a> {
    pub(crate) timestamp: i64,
    /// The timestamp's digits as sent (they are signed as sent).
    pub(crate) digits: &'a str,
    pub(crate) signature: &'a str,
}

/// The timestamp and signature when `value` is exactly `{timestamp_key}{digits}
/// {separator}{signature_key}{signature}`, the digits are Unix seconds in range, and
/// the signature holds neither the separator nor `=`: the shape Stripe (`t=…,v1=…`)
/// and Paddle (`ts=…;h1=…`) send for one secret. Their item-by-item readers give the
/// same two items for it, so they read only values of another shape, and this common
/// one costs no search for separators.
pub(crate) fn timestamp_then_signature<'a>(
    value: &'a str,
    timestamp_key: &str,
    separator: u8,
    signature_key: &str,
) -> Option<TimestampThenSignature<'a>> {
    let rest = value.strip_prefix(timestamp_key)?;
    let digits_end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .filter(|&end| end > 0)?;
    let (digits, rest) = rest.split_at_checked(digits_end)?;
    let signature = rest
        .strip_prefix(char::from(separator))?
        .strip_prefix(signature_key)?;
    // One pass without an exit per byte, so it is compiled to vector code.
    let plain = signature
        .as_bytes()
        .iter()
        .fold(true, |plain, &b| plain & (b != separator) & (b != b'='));
    if !plain {
        return None;
    }
    Some(TimestampThenSignature {
        timestamp: parse_unix_seconds(digits)?,
        digits,
        signature,
    })
}

/// The lines of several headers, found in one pass over the request's headers: for
/// each name, its first line and whether a second came. A scheme that reads many names
/// (Standard Webhooks: six, `svix-*` and `webhook-*`) pays one walk over a dozen
/// headers, comparing lengths first, instead of hashing every custom name (~20 ns a
/// lookup).
pub(crate) struct Lines<'h, const N: usize> {
    names: [&'static HeaderName; N],
    first: [Option<&'h HeaderValue>; N],
    repeated: [bool; N],
}

impl<'h, const N: usize> Lines<'h, N> {
    pub(crate) fn read(headers: &'h HeaderMap, names: [&'static HeaderName; N]) -> Self {
        let mut lines = Self {
            names,
            first: [None; N],
            repeated: [false; N],
        };
        let wanted = names.map(|name| name.as_str().as_bytes());
        // Header names of other lengths are passed over with one test (lengths from 63
        // up share the last bit, and are then compared in full).
        let length_bit = |name: &[u8]| 1u64 << name.len().min(63);
        let lengths = wanted.iter().fold(0, |mask, name| mask | length_bit(name));
        for (name, value) in headers {
            let name = name.as_str().as_bytes();
            if lengths & length_bit(name) == 0 {
                continue;
            }
            for (i, wanted) in wanted.iter().enumerate() {
                // Length and first byte before a full comparison: `user-agent` and
                // `webhook-id` are the same length.
                if wanted.len() == name.len() && wanted.first() == name.first() && *wanted == name {
                    if lines.first[i].is_some() {
                        lines.repeated[i] = true;
                    } else {
                        lines.first[i] = Some(value);
                    }
                }
            }
        }
        lines
    }

    /// What [`single`] says of `names[index]`.
    pub(crate) fn single(&self, index: usize) -> Result<Option<&'h str>, Rejection> {
        let (Some(&name), Some(&first), Some(&repeated)) = (
            self.names.get(index),
            self.first.get(index),
            self.repeated.get(index),
        ) else {
            return Ok(None);
        };
        checked(first, repeated, name)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    static A: HeaderName = HeaderName::from_static("x-a");
    static B: HeaderName = HeaderName::from_static("x-bb");

    #[test]
    fn visible_ascii_accepts_visible_ascii_and_tabs_and_trims_spaces_and_tabs() {
        for byte in 0..=255u8 {
            for at in [0, 7, 31, 40] {
                let mut bytes = vec![b'a'; 41];
                bytes[at] = byte;
                let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                    continue;
                };
                // RFC 9110's field-vchar without obs-text, SP and HTAB.
                let visible = bytes
                    .iter()
                    .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t');
                let want = visible.then(|| {
                    let text = std::str::from_utf8(&bytes).unwrap();
                    text.trim_matches([' ', '\t'])
                });
                assert_eq!(visible_ascii(&value), want, "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn lines_find_names_of_any_length() {
        static LONG: HeaderName = HeaderName::from_static(
            "x-a-header-name-longer-than-sixty-four-bytes-which-no-sender-uses-but-may",
        );
        let mut map = HeaderMap::new();
        map.append(&LONG, HeaderValue::from_static("1"));
        map.append(
            "x-another-name-longer-than-sixty-four-bytes-of-no-interest-here-at-all",
            HeaderValue::from_static("2"),
        );
        let lines = Lines::read(&map, [&LONG]);
        assert_eq!(lines.single(0), Ok(Some("1")));
    }

    #[test]
    fn lines_read_each_name_as_single_does() {
        let lines_of = |pairs: &[(&str, &[u8])]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                map.append(name, HeaderValue::from_bytes(value).unwrap());
            }
            map
        };
        let maps = [
            lines_of(&[]),
            lines_of(&[("x-a", b"1"), ("content-type", b"json")]),
            lines_of(&[("X-A", b" 1\t"), ("x-bb", b"2"), ("x-b", b"3")]),
            lines_of(&[("x-a", b"1"), ("x-a", b"1")]),
            lines_of(&[("x-bb", b""), ("x-a", b"  ")]),
            lines_of(&[("x-bb", b"caf\xc3\xa9"), ("host", b"h")]),
            lines_of(&[
                ("x-aa", b"1"),
                ("x-bb", b"2"),
                ("x-bb", b"3"),
                ("x-a", b"4"),
            ]),
        ];
        for map in &maps {
            let lines = Lines::read(map, [&A, &B]);
            assert_eq!(lines.single(0), single(map, &A), "{map:?}");
            assert_eq!(lines.single(1), single(map, &B), "{map:?}");
        }
    }
}
