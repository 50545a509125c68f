//! A new run (SPEC §4): the record committed with its outbox row and the message the
//! relay publishes, made the same way whatever started it (a webhook, the API).

mod cancel;
mod message;
mod wakes;

pub use cancel::{cancel_request, CANCEL_SUFFIX};
pub use message::{run_request, Origin, RunFields};
pub use wakes::{RunWakes, RunWatch};

use crate::store::{NewRun, OrgSlug};
use bytes::Bytes;
use chrono::{DateTime, Utc};

/// What a new run is made of.
pub struct RunSpec<'a> {
    pub id: String,
    pub org: &'a OrgSlug,
    pub workflow_id: &'a str,
    /// The webhook it came from; `None` when triggered through the API.
    pub origin: Option<Origin<'a>>,
    pub at: DateTime<Utc>,
    /// Its input: the webhook's body, or the API's `input`.
    pub input: &'a [u8],
    /// Sender headers passed on to the workflow.
    pub headers: &'a serde_json::Map<String, serde_json::Value>,
    /// The run's `traceparent` (already a child of the caller's, see `crate::trace`).
    pub traceparent: String,
    /// The run a retry starts again.
    pub retry_of: Option<&'a str>,
}

/// The run record with its AMQP message and headers, ready to commit.
pub fn new_run(spec: RunSpec<'_>) -> NewRun {
    let message = run_request(&RunFields {
        run_id: &spec.id,
        org: spec.org.as_str(),
        workflow_id: spec.workflow_id,
        origin: spec.origin,
        received_at: spec.at,
        body: spec.input,
        headers: spec.headers,
        retry_of: spec.retry_of,
    });
    // Kept where nothing else keeps the input: a webhook's is its event's body.
    let keeps_input = spec.origin.is_none() || spec.retry_of.is_some();
    let mut message_headers = vec![
        ("traceparent".to_owned(), spec.traceparent),
        ("hookgate-org".to_owned(), spec.org.to_string()),
    ];
    if let Some(origin) = spec.origin {
        message_headers.push(("hookgate-source".to_owned(), origin.source_id.to_owned()));
    }
    NewRun {
        id: spec.id,
        org: spec.org.clone(),
        workflow_id: spec.workflow_id.to_owned(),
        trigger_type: match spec.retry_of {
            Some(_) => "retry",
            None => spec.origin.map_or("api", |o| o.trigger_type()),
        },
        source_id: spec.origin.map(|o| o.source_id.to_owned()),
        event_id: spec.origin.map(|o| o.event_id.to_owned()),
        message: Bytes::from(message),
        message_headers,
        created_at: spec.at,
        input: keeps_input.then(|| Bytes::copy_from_slice(spec.input)),
        retry_of: spec.retry_of.map(str::to_owned),
    }
}
