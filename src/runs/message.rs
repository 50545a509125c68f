//! The run request message of SPEC §4, built once when a run is created.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

#[derive(Serialize)]
struct Trigger<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_of: Option<&'a str>,
    received_at: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    /// The body verbatim when it is JSON: no re-serialisation.
    Json(&'a RawValue),
    Raw {
        raw_base64: String,
    },
}

#[derive(Serialize)]
struct RunRequest<'a> {
    run_id: &'a str,
    org: &'a str,
    workflow_id: &'a str,
    trigger: Trigger<'a>,
    input: Input<'a>,
    headers: &'a serde_json::Map<String, serde_json::Value>,
}

/// Where a run came from.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    pub source_id: &'a str,
    pub verifier: &'a str,
    pub event_id: &'a str,
    /// A replay of the recorded event (SPEC §11) rather than the sender's request.
    pub replay: bool,
}

impl Origin<'_> {
    /// `trigger.type` of the run.
    pub fn trigger_type(&self) -> &'static str {
        if self.replay {
            "replay"
        } else {
            "webhook"
        }
    }
}

pub struct RunFields<'a> {
    pub run_id: &'a str,
    pub org: &'a str,
    pub workflow_id: &'a str,
    /// `None` for runs triggered through the API.
    pub origin: Option<Origin<'a>>,
    pub received_at: DateTime<Utc>,
    pub body: &'a [u8],
    pub headers: &'a serde_json::Map<String, serde_json::Value>,
    /// The run a retry starts again (`trigger.type = "retry"`).
    pub retry_of: Option<&'a str>,
}

/// The JSON body of the AMQP message.
pub fn run_request(fields: &RunFields<'_>) -> Vec<u8> {
    use base64::Engine;
    let input = match serde_json::from_slice::<&RawValue>(fields.body) {
        Ok(raw) => Input::Json(raw),
        Err(_) => Input::Raw {
            raw_base64: base64::engine::general_purpose::STANDARD.encode(fields.body),
        },
    };
    let origin = fields.origin.as_ref();
    let request = RunRequest {
        run_id: fields.run_id,
        org: fields.org,
        workflow_id: fields.workflow_id,
        trigger: Trigger {
            kind: match fields.retry_of {
                Some(_) => "retry",
                None => origin.map_or("api", Origin::trigger_type),
            },
            retry_of: fields.retry_of,
            source_id: origin.map(|o| o.source_id),
            verifier: origin.map(|o| o.verifier),
            event_id: origin.map(|o| o.event_id),
            received_at: fields
                .received_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        },
        input,
        headers: fields.headers,
    };
    // Serialising plain structs and strings into a Vec cannot fail.
    serde_json::to_vec(&request).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fields<'a>(
        body: &'a [u8],
        headers: &'a serde_json::Map<String, serde_json::Value>,
    ) -> RunFields<'a> {
        RunFields {
            run_id: "run_1",
            org: "acme",
            workflow_id: "wf_deploy",
            origin: Some(Origin {
                source_id: "src_1",
                verifier: "github",
                event_id: "evt_1",
                replay: false,
            }),
            received_at: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
            body,
            headers,
            retry_of: None,
        }
    }

    #[test]
    fn json_body_is_embedded_verbatim_as_input() {
        let headers = serde_json::Map::new();
        let body = br#"{"zen": "Keep it logically awesome.",  "hook_id":1}"#;
        let message: serde_json::Value =
            serde_json::from_slice(&run_request(&fields(body, &headers))).unwrap();
        assert_eq!(message["input"]["zen"], "Keep it logically awesome.");
        assert_eq!(message["trigger"]["type"], "webhook");
        assert_eq!(
            message["trigger"]["received_at"],
            "2026-11-22T12:00:00.000Z"
        );
        assert_eq!(message["run_id"], "run_1");
        let raw = String::from_utf8(run_request(&fields(body, &headers))).unwrap();
        assert!(raw.contains(r#""zen": "Keep it logically awesome.",  "hook_id":1"#));
    }

    #[test]
    fn non_json_body_is_carried_as_base64() {
        let headers = serde_json::Map::new();
        let message: serde_json::Value =
            serde_json::from_slice(&run_request(&fields(b"a=1&b=2", &headers))).unwrap();
        assert_eq!(
            message["input"],
            serde_json::json!({"raw_base64": "YT0xJmI9Mg=="})
        );
    }
}
