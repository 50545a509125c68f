//! What sources and endpoints share about secrets (SPEC §5): the rotation flags and
//! body, the metadata table, and the one-time display of a rotated secret.

use super::table::{cell, time, Table};
use crate::duration;
use clap::Args;
use serde_json::{json, Value};
use std::time::Duration;

/// `rotate-secret` flags, for sources and endpoints alike.
#[derive(Args, Debug, Clone)]
pub struct Rotation {
    /// How long the previous secrets stay valid: seconds, or 30m, 24h, 7d
    /// (the API's default: 86400).
    #[arg(long, value_parser = parse_grace, value_name = "DURATION")]
    grace: Option<Duration>,
    /// The new value (a sender's own secret, or a `whsec_…` for an endpoint);
    /// generated when absent.
    #[arg(long)]
    secret: Option<String>,
}

impl Rotation {
    /// The body of `POST …/secrets/rotate`; what was not given is left to the API.
    pub fn body(&self) -> Value {
        let mut body = json!({});
        if let Some(grace) = self.grace {
            body["grace_period_s"] = json!(grace.as_secs());
        }
        if let Some(secret) = &self.secret {
            body["secret"] = json!(secret);
        }
        body
    }
}

/// A grace period: bare seconds (`86400`) or a duration with unit (`24h`).
fn parse_grace(value: &str) -> Result<Duration, String> {
    let grace = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => duration::parse(value)?,
    };
    if grace.subsec_nanos() != 0 {
        return Err(format!("`{value}` is not a whole number of seconds"));
    }
    Ok(grace)
}

/// `GET …/secrets` as a table: metadata only, the API never returns values.
pub fn secret_table(secrets: &Value) -> Table {
    let mut table = Table::new([
        "SECRET",
        "FINGERPRINT",
        "ACTIVE",
        "CREATED",
        "EXPIRES",
        "LAST USED",
    ]);
    for secret in secrets["data"].as_array().into_iter().flatten() {
        table.row([
            cell(&secret["id"]),
            cell(&secret["fingerprint"]),
            cell(&secret["active"]),
            time(&secret["created_at"]),
            time(&secret["expires_at"]),
            time(&secret["last_used_at"]),
        ]);
    }
    table
}

/// The rotate response: the new secret (once) and when the previous ones expire.
/// `holder` is who must get the new value: the sender of a source, the receiver
/// behind an endpoint.
pub fn rotated(reply: &Value, holder: &str) -> String {
    let mut fields = Table::fields();
    fields
        .row(["secret id", &cell(&reply["secret_id"])])
        .row(["secret", &cell(&reply["secret"])]);
    let mut previous = Table::new(["PREVIOUS SECRET", "EXPIRES"]);
    for secret in reply["previous"].as_array().into_iter().flatten() {
        previous.row([cell(&secret["id"]), time(&secret["expires_at"])]);
    }
    format!(
        "{fields}(the new secret is shown this once: give it to the {holder} now)\n\n{previous}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_takes_seconds_or_a_duration_with_unit() {
        assert_eq!(parse_grace("86400"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_grace("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert!(parse_grace("1500ms").is_err());
        assert!(parse_grace("soon").is_err());
    }

    #[test]
    fn rotation_body_holds_only_what_was_given() {
        let rotation = |grace, secret: Option<&str>| Rotation {
            grace,
            secret: secret.map(str::to_owned),
        };
        assert_eq!(rotation(None, None).body(), json!({}));
        assert_eq!(
            rotation(Some(Duration::from_secs(3600)), Some("whsec_x")).body(),
            json!({"grace_period_s": 3600, "secret": "whsec_x"})
        );
    }

    #[test]
    fn rotated_shows_the_new_secret_once_and_when_the_previous_expire() {
        let reply = json!({"secret_id": "sec_2", "secret": "whsec_new",
                           "previous": [{"id": "sec_1", "expires_at": "2024-05-01T13:00:00Z"}]});
        assert_eq!(
            rotated(&reply, "receiver"),
            "secret id  sec_2\n\
             secret     whsec_new\n\
             (the new secret is shown this once: give it to the receiver now)\n\
             \n\
             PREVIOUS SECRET  EXPIRES\n\
             sec_1            2024-05-01 13:00:00Z\n"
        );
    }
}
