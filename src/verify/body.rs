//! The few body fields some schemes take their de-dup key and event name from.
//!
//! Read only after the signature verified, so the body is the sender's own.

use serde::Deserialize;
use serde_json::Value;

/// Fields of a JSON body; each `None` when absent or not a string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyFields {
    pub(crate) id: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) event_id: Option<String>,
    pub(crate) event_type: Option<String>,
    pub(crate) challenge: Option<String>,
}

// `Value` per field so that one field of an unexpected type spoils only itself; every
// other key is skipped without being materialised.
#[derive(Deserialize)]
struct Raw {
    id: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    event_id: Option<Value>,
    event: Option<Value>,
    challenge: Option<Value>,
}

/// Extracts [`BodyFields`] from a JSON object body. Anything else (form-encoded Slack
/// commands, invalid JSON, duplicate keys, which serde refuses) yields all `None`: the
/// event is still authentic, it just has no body-derived key or name.
pub(crate) fn fields(body: &[u8]) -> BodyFields {
    let starts_as_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_as_object {
        return BodyFields::default();
    }
    let Ok(raw) = serde_json::from_slice::<Raw>(body) else {
        return BodyFields::default();
    };
    let string = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let event_type = match raw.event {
        Some(Value::Object(mut event)) => string(event.remove("type")),
        _ => None,
    };
    BodyFields {
        id: string(raw.id),
        kind: string(raw.kind),
        event_id: string(raw.event_id),
        event_type,
        challenge: string(raw.challenge),
    }
}
