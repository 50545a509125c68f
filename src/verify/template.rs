//! The `signed_content` template of the `hmac` verifier: literals plus `{body}` and
//! `{timestamp}`.

use super::error::ConfigError;

/// One piece of an `hmac` `signed_content` template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Literal(&'a str),
    Timestamp,
    Body,
}

/// A valid template has at most `literal {x} literal {y} literal`.
const MAX_SEGMENTS: usize = 5;

/// A parsed `signed_content`: literals and the two placeholders, `{body}` exactly once.
/// Held inline (a valid template has at most five segments), so parsing one per request
/// costs no allocation.
#[derive(Debug)]
pub(crate) struct Template<'a> {
    segments: [Segment<'a>; MAX_SEGMENTS],
    len: usize,
}

impl<'a> Template<'a> {
    pub(crate) fn parse(raw: &'a str) -> Result<Self, ConfigError> {
        let bad = |reason| ConfigError::new("signed_content", reason);
        let mut template = Self {
            segments: [Segment::Body; MAX_SEGMENTS],
            len: 0,
        };
        let (mut bodies, mut timestamps) = (0usize, 0usize);
        // Segments past the fifth are only counted: such a template is refused below.
        let mut push = |segment: Segment<'a>| {
            match segment {
                Segment::Body => bodies += 1,
                Segment::Timestamp => timestamps += 1,
                Segment::Literal(_) => {}
            }
            if let Some(slot) = template.segments.get_mut(template.len) {
                *slot = segment;
                template.len += 1;
            }
        };
        let mut rest = raw;
        while let Some(open) = rest.find(['{', '}']) {
            if open > 0 {
                push(Segment::Literal(&rest[..open]));
            }
            rest = &rest[open..];
            // Any other brace is almost surely a typo'd placeholder such as `{ts}`.
            if let Some(after) = rest.strip_prefix("{body}") {
                push(Segment::Body);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("{timestamp}") {
                push(Segment::Timestamp);
                rest = after;
            } else {
                return Err(bad("only {body} and {timestamp} placeholders are allowed"));
            }
        }
        if !rest.is_empty() {
            push(Segment::Literal(rest));
        }
        if bodies != 1 {
            return Err(bad("must contain {body} exactly once"));
        }
        if timestamps > 1 {
            return Err(bad("must contain {timestamp} at most once"));
        }
        Ok(template)
    }

    pub(crate) fn segments(&self) -> &[Segment<'a>] {
        &self.segments[..self.len]
    }

    pub(crate) fn uses_timestamp(&self) -> bool {
        self.segments().contains(&Segment::Timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_holds_the_longest_valid_shape_and_refuses_extra_placeholders() {
        let parsed = Template::parse("a{timestamp}b{body}c");
        assert_eq!(
            parsed.map(|t| t.segments().to_vec()),
            Ok(vec![
                Segment::Literal("a"),
                Segment::Timestamp,
                Segment::Literal("b"),
                Segment::Body,
                Segment::Literal("c"),
            ])
        );
        let reason = |raw| Template::parse(raw).err().map(|e| e.reason());
        assert_eq!(
            reason("a{body}b{body}c{timestamp}d"),
            Some("must contain {body} exactly once")
        );
        assert_eq!(
            reason("a{timestamp}b{timestamp}c{body}d"),
            Some("must contain {timestamp} at most once")
        );
        assert_eq!(
            reason("a{body}b{body}c{timestamp}d{oops}"),
            Some("only {body} and {timestamp} placeholders are allowed")
        );
    }
}
