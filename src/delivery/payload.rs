//! What a receiver gets (SPEC §6): a Standard Webhooks message. The body is built once
//! per delivery; the headers once per attempt, because `webhook-timestamp` (and so the
//! signature) is the attempt's own while `webhook-id` stays the event id, the receiver's
//! de-duplication key across retries.

use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::verify::{standard_webhooks_signature_with, SignError, SigningKey};

/// `{"type","timestamp","data"}`, in that order, with an RFC 3339 UTC timestamp.
pub fn body(event_type: &str, timestamp: DateTime<Utc>, data: &Value) -> Vec<u8> {
    let timestamp = timestamp.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    // `Value`'s Display is compact JSON with strings escaped, and cannot fail.
    format!(
        r#"{{"type":{},"timestamp":{},"data":{data}}}"#,
        Value::from(event_type),
        Value::from(timestamp),
    )
    .into_bytes()
}

/// The headers of one attempt: `webhook-id`, `webhook-timestamp`, `webhook-signature`
/// (one `v1,<b64>` per secret, space-separated, so a receiver holding either side of a
/// rotation verifies) and `content-type`. `keys` are the endpoint's unexpired `whsec_…`
/// secrets, made ready to sign with ([`SigningKey::new`]).
pub fn headers(
    event_id: &str,
    attempt_at_unix: i64,
    body: &[u8],
    keys: &[SigningKey],
) -> Result<Vec<(&'static str, String)>, SignError> {
    // Visible ASCII only: what every receiver's header parser reads back unchanged.
    if event_id.is_empty() || !event_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SignError::InvalidHeaderValue("webhook-id"));
    }
    let signature = standard_webhooks_signature_with(event_id, attempt_at_unix, body, keys)?;
    Ok(vec![
        ("webhook-id", event_id.to_owned()),
        ("webhook-timestamp", attempt_at_unix.to_string()),
        ("webhook-signature", signature),
        ("content-type", "application/json".to_owned()),
    ])
}

/// `headers` as a `HeaderMap` for the client.
pub fn header_map(headers: &[(&'static str, String)]) -> Result<HeaderMap, SignError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .zip(HeaderValue::from_str(value).ok());
        let (name, value) = parsed.ok_or(SignError::InvalidHeaderValue(name))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The published Standard Webhooks test vector (standard-webhooks/standard-webhooks,
    /// libraries' shared tests).
    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const OTHER_SECRET: &[u8] = b"whsec_dGhlIG5ldyBzZWNyZXQgYWZ0ZXIgYSByb3RhdGlvbg==";

    /// The headers for `secrets` as stored, made ready to sign with first.
    fn signed(
        event_id: &str,
        at: i64,
        secrets: &[&[u8]],
    ) -> Result<Vec<(&'static str, String)>, SignError> {
        let keys = secrets
            .iter()
            .map(|secret| SigningKey::new(secret))
            .collect::<Result<Vec<_>, _>>()?;
        headers(event_id, at, BODY, &keys)
    }

    fn check(secrets: &[&[u8]], expect: Result<Vec<(&'static str, &str)>, SignError>) {
        let got = signed(MSG_ID, TIMESTAMP, secrets);
        let expect = expect.map(|h| h.into_iter().map(|(k, v)| (k, v.to_owned())).collect());
        assert_eq!(got, expect);
    }

    #[test]
    fn one_secret_signs_the_published_vector() {
        check(
            &[SECRET],
            Ok(vec![
                ("webhook-id", MSG_ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", SIGNATURE),
                ("content-type", "application/json"),
            ]),
        );
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures_in_order() {
        let other = signed(MSG_ID, TIMESTAMP, &[OTHER_SECRET]).unwrap();
        let other_signature = &other[2].1;
        assert_ne!(other_signature, SIGNATURE);
        let both = format!("{SIGNATURE} {other_signature}");
        check(
            &[SECRET, OTHER_SECRET],
            Ok(vec![
                ("webhook-id", MSG_ID),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", &both),
                ("content-type", "application/json"),
            ]),
        );
    }

    #[test]
    fn unusable_secrets_and_ids_are_refused() {
        check(&[], Err(SignError::NoSecret));
        check(&[b"whsec_not base64!"], Err(SignError::InvalidSecret));
        check(&[SECRET, b"whsec_"], Err(SignError::InvalidSecret));
        for id in ["", " msg_1", "msg 1", "msg\n1", "msg_é"] {
            assert_eq!(
                signed(id, TIMESTAMP, &[SECRET]),
                Err(SignError::InvalidHeaderValue("webhook-id")),
                "{id:?}"
            );
        }
    }

    #[test]
    fn each_attempt_signs_its_own_timestamp_under_the_same_id() {
        let first = signed(MSG_ID, TIMESTAMP, &[SECRET]).unwrap();
        let retry = signed(MSG_ID, TIMESTAMP + 5, &[SECRET]).unwrap();
        assert_eq!(first[0], retry[0]);
        assert_eq!(retry[1].1, "1614265335");
        assert_ne!(first[2], retry[2]);
    }

    #[test]
    fn body_is_type_timestamp_and_data() {
        let check = |event_type: &str, at: &str, data: Value, expect: &str| {
            let at: DateTime<Utc> = at.parse().unwrap();
            let got = body(event_type, at, &data);
            assert_eq!(String::from_utf8(got).unwrap(), expect);
        };
        check(
            "run.completed",
            "2022-11-03T20:26:10.344522Z",
            json!({"ok": true, "run_id": "run_01"}),
            r#"{"type":"run.completed","timestamp":"2022-11-03T20:26:10.344522Z","data":{"ok":true,"run_id":"run_01"}}"#,
        );
        check(
            "run.failed",
            "2022-11-03T20:26:10+02:00",
            json!({}),
            r#"{"type":"run.failed","timestamp":"2022-11-03T18:26:10Z","data":{}}"#,
        );
        check(
            "odd \"type\"\n",
            "2022-11-03T20:26:10Z",
            json!(null),
            r#"{"type":"odd \"type\"\n","timestamp":"2022-11-03T20:26:10Z","data":null}"#,
        );
    }

    #[test]
    fn headers_convert_to_a_header_map() {
        let pairs = signed(MSG_ID, TIMESTAMP, &[SECRET]).unwrap();
        let map = header_map(&pairs).unwrap();
        assert_eq!(map.len(), 4);
        assert_eq!(map["webhook-signature"], SIGNATURE);
        assert_eq!(map["content-type"], "application/json");
    }
}
