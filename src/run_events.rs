//! Run events as they arrive (SPEC §6), from RabbitMQ or `POST /orgs/{org}/events`:
//! parsing and validation into a [`RunEvent`], shared by both doors. Pure.

use crate::id::new_id;
use crate::store::{OrgSlug, RunEvent};
use crate::trace::child_traceparent;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The wire shape: `{"event_id","type","run_id","org","workflow_id","occurred_at","data"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingRunEvent {
    /// Idempotency: an event id seen before (in this org) is not delivered again.
    /// Generated when absent.
    pub event_id: Option<String>,
    /// e.g. `run.completed`, `run.failed`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub run_id: Option<String>,
    /// Required on RabbitMQ; on HTTP the path's org (must match if given).
    pub org: Option<String>,
    pub workflow_id: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    /// The payload delivered to endpoints (default `{}`).
    #[schema(value_type = Object)]
    pub data: Option<serde_json::Value>,
}

/// A field that does not validate, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidEvent {
    pub field: std::borrow::Cow<'static, str>,
    pub reason: &'static str,
}

fn invalid(field: &'static str, reason: &'static str) -> InvalidEvent {
    InvalidEvent {
        field: field.into(),
        reason,
    }
}

/// For a field named by a path found in the data.
fn invalid_owned(field: String, reason: &'static str) -> InvalidEvent {
    InvalidEvent {
        field: field.into(),
        reason,
    }
}

fn word(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

impl IncomingRunEvent {
    /// Validates into a [`RunEvent`] of `org` (`None`: the body must name the org).
    /// `traceparent`: the header the event arrived with (AMQP or HTTP), if any; the
    /// event keeps a child span of it, or a new trace.
    pub fn validate(
        self,
        org: Option<&OrgSlug>,
        traceparent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<RunEvent, InvalidEvent> {
        let org = match (org, self.org.as_deref()) {
            (Some(path), Some(body)) if body != path.as_str() => {
                return Err(invalid("org", "does not match the org in the path"))
            }
            (Some(path), _) => path.clone(),
            (None, Some(body)) => {
                OrgSlug::parse(body).map_err(|_| invalid("org", "not an org slug"))?
            }
            (None, None) => return Err(invalid("org", "required")),
        };
        if !word(&self.event_type) {
            return Err(invalid(
                "type",
                "must be 1 to 128 of letters, digits, '.', '_', '-', ':'",
            ));
        }
        if let Some(id) = &self.event_id {
            if !word(id) {
                return Err(invalid(
                    "event_id",
                    "must be 1 to 128 of letters, digits, '.', '_', '-', ':'",
                ));
            }
        }
        for (field, value) in [("run_id", &self.run_id), ("workflow_id", &self.workflow_id)] {
            if value.as_deref().is_some_and(|v| !word(v)) {
                return Err(invalid(
                    field,
                    "must be 1 to 128 of letters, digits, '.', '_', '-', ':'",
                ));
            }
        }
        let data = self.data.unwrap_or_else(|| serde_json::json!({}));
        if !data.is_object() {
            return Err(invalid("data", "must be a JSON object"));
        }
        if let Some(path) = crate::storable::nul_in_json(&data, "data") {
            return Err(invalid_owned(path, "must not contain NUL (U+0000)"));
        }
        Ok(RunEvent {
            id: self.event_id.unwrap_or_else(|| new_id("evt")),
            org,
            event_type: self.event_type,
            run_id: self.run_id,
            workflow_id: self.workflow_id,
            occurred_at: self.occurred_at.unwrap_or(now),
            data,
            received_at: now,
            traceparent: Some(child_traceparent(traceparent, rand::random())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value, org: Option<&str>) -> Result<RunEvent, InvalidEvent> {
        let incoming: IncomingRunEvent = serde_json::from_value(json).unwrap();
        let org = org.map(|o| OrgSlug::parse(o).unwrap());
        incoming.validate(org.as_ref(), None, Utc::now())
    }

    #[test]
    fn scheduler_event_from_the_broker_validates_with_its_org() {
        let event = parse(
            serde_json::json!({"event_id": "e1", "type": "run.completed", "run_id": "run_1",
                               "org": "acme", "workflow_id": "wf", "data": {"ok": true}}),
            None,
        )
        .unwrap();
        assert_eq!((event.id.as_str(), event.org.as_str()), ("e1", "acme"));
        assert_eq!(event.data["ok"], true);
    }

    #[test]
    fn invalid_events_name_the_field() {
        let cases = [
            (serde_json::json!({"type": "run.completed"}), None, "org"),
            (
                serde_json::json!({"type": "run.completed", "org": "other"}),
                Some("acme"),
                "org",
            ),
            (
                serde_json::json!({"type": "run completed"}),
                Some("acme"),
                "type",
            ),
            (
                serde_json::json!({"type": "run.completed", "data": [1]}),
                Some("acme"),
                "data",
            ),
            (
                serde_json::json!({"type": "run.completed", "event_id": ""}),
                Some("acme"),
                "event_id",
            ),
            (
                serde_json::json!({"type": "run.completed", "run_id": "a b"}),
                Some("acme"),
                "run_id",
            ),
        ];
        for (json, org, field) in cases {
            assert_eq!(parse(json.clone(), org).unwrap_err().field, field, "{json}");
        }
    }

    #[test]
    fn missing_event_id_is_generated_and_data_defaults_to_an_object() {
        let event = parse(serde_json::json!({"type": "run.started"}), Some("acme")).unwrap();
        assert!(event.id.starts_with("evt_"));
        assert_eq!(event.data, serde_json::json!({}));
    }
}
