//! The `signed_content` template of the `hmac` verifier: literals plus `{body}` and
//! `{timestamp}`.

use super::config::ConfigError;

/// One piece of an `hmac` `signed_content` template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Literal(&'a str),
    Timestamp,
    Body,
}

/// A parsed `signed_content`: literals and the two placeholders, `{body}` exactly once.
#[derive(Debug)]
pub(crate) struct Template<'a> {
    pub(crate) segments: Vec<Segment<'a>>,
}

impl<'a> Template<'a> {
    pub(crate) fn parse(raw: &'a str) -> Result<Self, ConfigError> {
        let bad = |reason| ConfigError::new("signed_content", reason);
        let mut segments = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find(['{', '}']) {
            if open > 0 {
                segments.push(Segment::Literal(&rest[..open]));
            }
            rest = &rest[open..];
            // Any other brace is almost surely a typo'd placeholder such as `{ts}`.
            if let Some(after) = rest.strip_prefix("{body}") {
                segments.push(Segment::Body);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("{timestamp}") {
                segments.push(Segment::Timestamp);
                rest = after;
            } else {
                return Err(bad("only {body} and {timestamp} placeholders are allowed"));
            }
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest));
        }
        let count = |want: Segment<'_>| segments.iter().filter(|s| **s == want).count();
        if count(Segment::Body) != 1 {
            return Err(bad("must contain {body} exactly once"));
        }
        if count(Segment::Timestamp) > 1 {
            return Err(bad("must contain {timestamp} at most once"));
        }
        Ok(Self { segments })
    }

    pub(crate) fn uses_timestamp(&self) -> bool {
        self.segments.contains(&Segment::Timestamp)
    }
}
