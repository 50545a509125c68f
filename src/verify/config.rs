//! Verifier configuration: the `verifier` object of SPEC §7.1, plus its validation.

use std::time::Duration;

use http::HeaderName;
use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::template::Template;

/// How a source authenticates its sender (SPEC §3.2). The serde shape is the wire shape
/// of SPEC §7.1: `{"type": "github"}`, `{"type": "hmac", "header": …}`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub enum VerifierConfig {
    Github,
    Stripe,
    StandardWebhooks,
    Shopify,
    Slack,
    Hmac(HmacConfig),
    Bearer(BearerConfig),
}

/// The serde shape. Serde ignores extra keys beside the tag of a *unit* variant even with
/// `deny_unknown_fields`, so the option-less types are empty struct variants here.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Wire {
    Github {},
    Stripe {},
    StandardWebhooks {},
    Shopify {},
    Slack {},
    Hmac(HmacConfig),
    Bearer(BearerConfig),
}

impl From<Wire> for VerifierConfig {
    fn from(wire: Wire) -> Self {
        match wire {
            Wire::Github {} => Self::Github,
            Wire::Stripe {} => Self::Stripe,
            Wire::StandardWebhooks {} => Self::StandardWebhooks,
            Wire::Shopify {} => Self::Shopify,
            Wire::Slack {} => Self::Slack,
            Wire::Hmac(c) => Self::Hmac(c),
            Wire::Bearer(c) => Self::Bearer(c),
        }
    }
}

impl From<VerifierConfig> for Wire {
    fn from(config: VerifierConfig) -> Self {
        match config {
            VerifierConfig::Github => Self::Github {},
            VerifierConfig::Stripe => Self::Stripe {},
            VerifierConfig::StandardWebhooks => Self::StandardWebhooks {},
            VerifierConfig::Shopify => Self::Shopify {},
            VerifierConfig::Slack => Self::Slack {},
            VerifierConfig::Hmac(c) => Self::Hmac(c),
            VerifierConfig::Bearer(c) => Self::Bearer(c),
        }
    }
}

/// The closed set of verifier types, for metrics labels and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifierKind {
    Github,
    Stripe,
    StandardWebhooks,
    Shopify,
    Slack,
    Hmac,
    Bearer,
}

impl VerifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::StandardWebhooks => "standard_webhooks",
            Self::Shopify => "shopify",
            Self::Slack => "slack",
            Self::Hmac => "hmac",
            Self::Bearer => "bearer",
        }
    }
}

/// A sender-defined HMAC scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    /// Header carrying the MAC, e.g. `X-Signature`.
    pub header: String,
    /// Literal text before the encoded MAC, e.g. `sha256=`; `None` or empty = no prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub encoding: MacEncoding,
    #[serde(default)]
    pub algorithm: MacAlgorithm,
    /// Template with the placeholders `{body}` (exactly once) and `{timestamp}`.
    #[serde(default = "default_signed_content")]
    pub signed_content: String,
    /// Required exactly when `signed_content` uses `{timestamp}`.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// Accepted clock skew either way, in seconds (wire name per SPEC §7.1).
    #[serde(default = "default_tolerance_s")]
    pub tolerance_s: u64,
    #[serde(default)]
    pub dedup_header: Option<String>,
    #[serde(default)]
    pub event_header: Option<String>,
}

impl HmacConfig {
    pub fn tolerance(&self) -> Duration {
        Duration::from_secs(self.tolerance_s)
    }
}

/// A shared token sent verbatim by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerConfig {
    /// `Authorization` expects `Bearer <token>`; any other header carries the raw token.
    #[serde(default = "default_bearer_header")]
    pub header: String,
    #[serde(default)]
    pub dedup_header: Option<String>,
    #[serde(default)]
    pub event_header: Option<String>,
}

impl Default for BearerConfig {
    fn default() -> Self {
        Self {
            header: default_bearer_header(),
            dedup_header: None,
            event_header: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacAlgorithm {
    #[default]
    Sha256,
    Sha512,
}

/// Longest accepted `tolerance_s`: a day; anything longer is a replay window, not skew.
const MAX_TOLERANCE_S: u64 = 86_400;

impl VerifierConfig {
    /// Headers this configuration names for the event name and de-dup key (generic
    /// schemes only): they travel with the run like the senders' own event headers.
    pub fn configured_headers(&self) -> Vec<&str> {
        let (event, dedup) = match self {
            Self::Hmac(c) => (&c.event_header, &c.dedup_header),
            Self::Bearer(c) => (&c.event_header, &c.dedup_header),
            _ => return Vec::new(),
        };
        [event.as_deref(), dedup.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }

    pub fn kind(&self) -> VerifierKind {
        match self {
            Self::Github => VerifierKind::Github,
            Self::Stripe => VerifierKind::Stripe,
            Self::StandardWebhooks => VerifierKind::StandardWebhooks,
            Self::Shopify => VerifierKind::Shopify,
            Self::Slack => VerifierKind::Slack,
            Self::Hmac(_) => VerifierKind::Hmac,
            Self::Bearer(_) => VerifierKind::Bearer,
        }
    }

    /// Checks what serde cannot: header names, the template, field combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Hmac(c) => validate_hmac(c),
            Self::Bearer(c) => {
                check_header_name("header", &c.header)?;
                optional_header_name("dedup_header", c.dedup_header.as_deref())?;
                optional_header_name("event_header", c.event_header.as_deref())?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

pub(crate) fn validate_hmac(c: &HmacConfig) -> Result<(), ConfigError> {
    prepare_hmac(c).map(drop)
}

/// Validates an `hmac` configuration and returns its parsed `signed_content`. Allocates
/// nothing: the verifier runs it on every request.
pub(crate) fn prepare_hmac(c: &HmacConfig) -> Result<Template<'_>, ConfigError> {
    check_header_name("header", &c.header)?;
    if let Some(prefix) = c.prefix.as_deref() {
        // Header values are trimmed and must be visible ASCII, so such a prefix never matches.
        let printable = prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !printable || prefix.trim() != prefix {
            return Err(ConfigError::new(
                "prefix",
                "must be visible ASCII without surrounding spaces",
            ));
        }
    }
    let template = Template::parse(&c.signed_content)?;
    match (template.uses_timestamp(), c.timestamp_header.as_deref()) {
        (true, None) => {
            return Err(ConfigError::new(
                "timestamp_header",
                "required when signed_content uses {timestamp}",
            ))
        }
        // A timestamp outside the MAC could be replaced freely: checking it would be theatre.
        (false, Some(_)) => {
            return Err(ConfigError::new(
                "signed_content",
                "must use {timestamp} when timestamp_header is set",
            ))
        }
        (true, Some(ts)) => {
            check_header_name("timestamp_header", ts)?;
            // Header names are case-insensitive (`HeaderName` lower-cases them).
            if ts.eq_ignore_ascii_case(&c.header) {
                return Err(ConfigError::new(
                    "timestamp_header",
                    "must differ from the signature header",
                ));
            }
            if c.tolerance_s == 0 || c.tolerance_s > MAX_TOLERANCE_S {
                return Err(ConfigError::new("tolerance_s", "must be 1..=86400"));
            }
        }
        (false, None) => {}
    }
    optional_header_name("dedup_header", c.dedup_header.as_deref())?;
    optional_header_name("event_header", c.event_header.as_deref())?;
    Ok(template)
}

pub(crate) fn header_name(field: &'static str, raw: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(raw.as_bytes())
        .map_err(|_| ConfigError::new(field, "not a valid HTTP header name"))
}

/// What [`header_name`] accepts, without building (and allocating) the name: 1 to 65,535
/// token characters (RFC 9110 §5.6.2), upper case allowed.
pub(crate) fn check_header_name(field: &'static str, raw: &str) -> Result<(), ConfigError> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let valid = (1..=65_535).contains(&raw.len()) && raw.bytes().all(is_tchar);
    valid
        .then_some(())
        .ok_or(ConfigError::new(field, "not a valid HTTP header name"))
}

fn optional_header_name(field: &'static str, raw: Option<&str>) -> Result<(), ConfigError> {
    raw.map_or(Ok(()), |raw| check_header_name(field, raw))
}

fn default_signed_content() -> String {
    "{body}".to_owned()
}
fn default_tolerance_s() -> u64 {
    300
}
fn default_bearer_header() -> String {
    "Authorization".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_header_name_accepts_exactly_what_header_name_accepts() {
        let same = |raw: &[u8]| {
            let Ok(text) = std::str::from_utf8(raw) else {
                return;
            };
            assert_eq!(
                check_header_name("h", text).is_ok(),
                header_name("h", text).is_ok(),
                "{raw:?}"
            );
        };
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
            }
        }
        for len in [0, 64, 65, 65_535, 65_536] {
            same(&vec![b'X'; len]);
        }
        same("é".as_bytes());
    }
}
