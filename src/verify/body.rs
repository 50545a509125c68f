//! The few body fields some schemes take their de-dup key and event name from.
//!
//! Read only after the signature verified, so the body is the sender's own.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// Fields of a JSON body; each `None` when absent or not a string. Strings borrow from
/// the body unless they contain escapes, so a caller pays only for what it keeps.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyFields<'a> {
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) kind: Option<Cow<'a, str>>,
    pub(crate) event_id: Option<Cow<'a, str>>,
    pub(crate) event_type: Option<Cow<'a, str>>,
    pub(crate) challenge: Option<Cow<'a, str>>,
}

// One field of an unexpected type spoils only itself; every other key is skipped without
// being materialised.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    id: Option<Field<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Field<'a>>,
    #[serde(borrow)]
    event_id: Option<Field<'a>>,
    #[serde(borrow)]
    event: Option<Event<'a>>,
    #[serde(borrow)]
    challenge: Option<Field<'a>>,
}

/// Extracts [`BodyFields`] from a JSON object body. Anything else (form-encoded Slack
/// commands, invalid JSON, duplicate keys, which serde refuses) yields all `None`: the
/// event is still authentic, it just has no body-derived key or name.
pub(crate) fn fields(body: &[u8]) -> BodyFields<'_> {
    let starts_as_object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_as_object {
        return BodyFields::default();
    }
    let Ok(raw) = serde_json::from_slice::<Raw<'_>>(body) else {
        return BodyFields::default();
    };
    fn string(field: Option<Field<'_>>) -> Option<Cow<'_, str>> {
        field.and_then(|f| f.0)
    }
    BodyFields {
        id: string(raw.id),
        kind: string(raw.kind),
        event_id: string(raw.event_id),
        event_type: raw.event.and_then(|e| e.0),
        challenge: string(raw.challenge),
    }
}

/// A value kept only if it is a string. Every other value is still parsed as a
/// `serde_json::Value` (and dropped), so exactly the bodies `Value` refuses are refused.
struct Field<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Field(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Field(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(|_| Field(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(|_| Field(None))
    }
}

/// The top-level `event`: its `type` if it is an object whose (last) `type` is a string.
struct Event<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Event<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Object(mut event) => match event.remove("type") {
                Some(Value::String(kind)) => Event(Some(Cow::Owned(kind))),
                _ => Event(None),
            },
            _ => Event(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous implementation, which read every field as a `serde_json::Value`.
    fn reference(body: &[u8]) -> [Option<String>; 5] {
        #[derive(Deserialize)]
        struct Raw {
            id: Option<Value>,
            #[serde(rename = "type")]
            kind: Option<Value>,
            event_id: Option<Value>,
            event: Option<Value>,
            challenge: Option<Value>,
        }
        let starts_as_object = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        let Some(raw) = starts_as_object
            .then(|| serde_json::from_slice::<Raw>(body).ok())
            .flatten()
        else {
            return Default::default();
        };
        let string = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let event_type = match raw.event {
            Some(Value::Object(mut event)) => string(event.remove("type")),
            _ => None,
        };
        [
            string(raw.id),
            string(raw.kind),
            string(raw.event_id),
            event_type,
            string(raw.challenge),
        ]
    }

    fn owned(f: BodyFields<'_>) -> [Option<String>; 5] {
        [f.id, f.kind, f.event_id, f.event_type, f.challenge].map(|f| f.map(Cow::into_owned))
    }

    #[test]
    fn body_fields_match_a_full_value_parse_on_tricky_bodies() {
        let bodies: &[&[u8]] = &[
            br#"{"id":"evt_1","type":"push","event_id":"Ev1","challenge":"c"}"#,
            br#" {"id":"evt_\u0031","type":"a\"b"}"#,
            br#"{"id":1,"type":true,"event_id":null,"challenge":[1,{"a":"b"}]}"#,
            br#"{"id":"a","id":"b"}"#,
            br#"{"x":1,"x":2,"id":"kept"}"#,
            br#"{"id":{"nested":"\ud800"},"type":"t"}"#,
            br#"{"id":["\ud800"],"type":"t"}"#,
            br#"{"other":"\ud800","type":"t"}"#,
            br#"{"id":1e999,"type":"t"}"#,
            br#"{"other":1e999,"type":"t"}"#,
            br#"{"event":{"type":"app_mention","type":"later"},"type":"event_callback"}"#,
            br#"{"event":{"type":1},"type":"event_callback"}"#,
            br#"{"event":"text","type":"t"}"#,
            br#"{"event":{"type":"x"},"event":{}}"#,
            br#"{"type":"t"} trailing"#,
            br#"{"type":"t"}   "#,
            br#"{"type":"t""#,
            br#"[{"type":"t"}]"#,
            b"\x0c{\"type\":\"t\"}",
            b"{\"type\":\"caf\xc3\xa9\"}",
            b"{\"type\":\"bad\xff\"}",
            b"{\"other\":\"bad\xff\",\"type\":\"t\"}",
            b"{\"id\":{\"k\":\"bad\xff\"},\"type\":\"t\"}",
            b"payload=%7B%22type%22%3A%22x%22%7D",
            b"",
        ];
        for body in bodies {
            assert_eq!(
                owned(fields(body)),
                reference(body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
