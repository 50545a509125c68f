//! What the options of several schemes share: MAC algorithms and encodings, and the
//! check of a configured header name. Each scheme's options live in its own file, and
//! `VerifierConfig` in the table (`schemes.rs`).

use http::HeaderName;
use serde::{Deserialize, Serialize};

use super::error::ConfigError;

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

pub(crate) fn optional_header_name(
    field: &'static str,
    raw: Option<&str>,
) -> Result<(), ConfigError> {
    raw.map_or(Ok(()), |raw| check_header_name(field, raw))
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
