//! `--verifier` and `--verifier-json`, shared by `sources create` and `sign`: together
//! they make the `verifier` object of SPEC §7.1.

use crate::verify::{VerifierConfig, VerifierKind};
use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

#[derive(Args, Debug, Clone)]
pub struct VerifierArgs {
    /// How the sender signs its requests: as the sender of that name does (github,
    /// stripe, …), or by a scheme of your own (hmac, bearer).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub verifier: VerifierType,
    /// Options for hmac, bearer and the senders with a replay window (linear, hubspot,
    /// paddle, zendesk, mailgun, sendgrid, aws_sns) as a JSON object, e.g.
    /// '{"header":"X-Signature","prefix":"sha256="}' (--help lists them).
    ///
    /// hmac: "header" (required: the header carrying the MAC), "prefix" (text before
    /// the MAC, e.g. "sha256="), "encoding" ("hex", the default, or "base64"),
    /// "algorithm" ("sha256", the default, or "sha512"), "signed_content" ("{body}", the
    /// default, or a template such as "{timestamp}.{body}"), "timestamp_header"
    /// (required when the template has {timestamp}), "tolerance_s" (accepted clock skew
    /// in seconds, default 300), "dedup_header" (a delivery id, to drop repeats),
    /// "event_header" (the event name, for --event-filter).
    ///
    /// bearer: "header" (default "Authorization", carrying "Bearer <token>"; any other
    /// header carries the token alone), "dedup_header", "event_header".
    ///
    /// linear, paddle, zendesk, mailgun: "tolerance_s" (accepted clock skew in seconds;
    /// default 60 for linear and 5 for paddle, as their SDKs, and 300 for the others).
    ///
    /// hubspot: "tolerance_s" (age in seconds from which a request is refused; default
    /// 300, as HubSpot's library, which sets no bound on timestamps ahead of now).
    ///
    /// sendgrid: "tolerance_s" (refuse timestamps further from now, either way; none by
    /// default, as SendGrid's library).
    ///
    /// aws_sns: "tolerance_s" (refuse a Timestamp older than this; default 3600),
    /// "auto_confirm" (true: confirm a subscription by calling its SubscribeURL).
    ///
    /// The other types take no options.
    #[arg(long, value_name = "JSON")]
    pub verifier_json: Option<String>,
}

/// A verifier type, as `--verifier TYPE` names it.
pub type VerifierType = VerifierKind;

/// `--verifier` takes every type of the verifier table by its API name, and with `-`
/// for `_` (`standard-webhooks`) as a hidden alias.
impl ValueEnum for VerifierKind {
    fn value_variants<'a>() -> &'a [Self] {
        Self::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let name = self.as_str();
        let value = PossibleValue::new(name);
        Some(match name.contains('_') {
            true => value.alias(name.replace('_', "-")),
            false => value,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifierArgsError {
    #[error("--verifier-json is not a JSON object")]
    NotAnObject,
    #[error("--verifier-json is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("--verifier-json says type {found:?} but --verifier is {given}")]
    TypeConflict { found: Value, given: &'static str },
    #[error("--verifier {verifier}: invalid options (they go in --verifier-json, see --verifier-json in --help)")]
    Invalid {
        verifier: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl VerifierArgs {
    /// The API's `verifier` object: `{"type": …}` plus the options of `--verifier-json`.
    pub fn to_json(&self) -> Result<Value, VerifierArgsError> {
        let given = self.verifier.as_str();
        let mut object = match self.verifier_json.as_deref() {
            None => Map::new(),
            Some(text) => match serde_json::from_str(text).map_err(VerifierArgsError::Json)? {
                Value::Object(object) => object,
                _ => return Err(VerifierArgsError::NotAnObject),
            },
        };
        if let Some(found) = object.get("type").filter(|t| *t != given) {
            return Err(VerifierArgsError::TypeConflict {
                found: found.clone(),
                given,
            });
        }
        object.insert("type".to_owned(), Value::String(given.to_owned()));
        Ok(Value::Object(object))
    }

    /// The configuration the signer needs; fails as the API's parser would.
    pub fn to_config(&self) -> Result<VerifierConfig, VerifierArgsError> {
        serde_json::from_value(self.to_json()?).map_err(|source| VerifierArgsError::Invalid {
            verifier: self.verifier.as_str(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::BearerConfig;
    use serde_json::json;

    fn args(verifier: VerifierType, json: Option<&str>) -> VerifierArgs {
        VerifierArgs {
            verifier,
            verifier_json: json.map(str::to_owned),
        }
    }

    #[test]
    fn type_alone_makes_an_option_less_verifier() {
        let github = args(VerifierType::Github, None);
        assert_eq!(github.to_json().unwrap(), json!({"type": "github"}));
        assert_eq!(github.to_config().unwrap(), VerifierConfig::Github);
        assert_eq!(
            args(VerifierType::Bearer, None).to_config().unwrap(),
            VerifierConfig::Bearer(BearerConfig::default())
        );
    }

    #[test]
    fn options_are_merged_under_the_given_type() {
        let hmac = args(
            VerifierType::Hmac,
            Some(r#"{"header":"X-Signature","prefix":"sha256="}"#),
        );
        assert_eq!(
            hmac.to_json().unwrap(),
            json!({"type": "hmac", "header": "X-Signature", "prefix": "sha256="})
        );
        assert!(
            matches!(hmac.to_config().unwrap(), VerifierConfig::Hmac(c) if c.header == "X-Signature")
        );
    }

    #[test]
    fn conflicting_type_non_object_and_missing_options_are_refused() {
        let conflict = args(VerifierType::Github, Some(r#"{"type":"stripe"}"#));
        assert!(matches!(
            conflict.to_json(),
            Err(VerifierArgsError::TypeConflict { .. })
        ));
        let same = args(VerifierType::Github, Some(r#"{"type":"github"}"#));
        assert!(same.to_json().is_ok());
        assert!(matches!(
            args(VerifierType::Hmac, Some("[1]")).to_json(),
            Err(VerifierArgsError::NotAnObject)
        ));
        let error = args(VerifierType::Hmac, None).to_config().unwrap_err();
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("header"), "{cause}");
    }

    #[test]
    fn verifier_takes_every_type_by_its_api_name_or_with_dashes() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            verifier: VerifierArgs,
        }
        let parse = |name: &str| Cli::try_parse_from(["t", "--verifier", name]);
        for &kind in VerifierKind::ALL {
            assert_eq!(parse(kind.as_str()).unwrap().verifier.verifier, kind);
            let dashed = kind.as_str().replace('_', "-");
            assert_eq!(parse(&dashed).unwrap().verifier.verifier, kind);
        }
        assert!(parse("sha1").is_err());
        assert!(parse("GitHub").is_err());
    }
}
