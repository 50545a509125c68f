//! A cancel request (SPEC §12): the `run.cancel_requested.{workflow_id}` message the
//! scheduler receives through the outbox, with the guarantees of a run request (§4).

use crate::store::{CancelRequest, Run};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

/// The end of a cancel request's message id, `<run_id>.cancel`: its outbox key and AMQP
/// `message_id`; the relay routes such a message as a cancel request.
pub const CANCEL_SUFFIX: &str = ".cancel";

/// The message for cancelling `run`, asked by `actor` at `at`; `traceparent` joins the
/// caller's trace.
pub fn cancel_request(
    run: &Run,
    actor: &str,
    at: DateTime<Utc>,
    traceparent: String,
) -> CancelRequest {
    let body = serde_json::json!({
        "run_id": run.id,
        "org": run.org.as_str(),
        "workflow_id": run.workflow_id,
        "requested_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "actor": actor,
    });
    CancelRequest {
        run_id: run.id.clone(),
        message_id: format!("{}{CANCEL_SUFFIX}", run.id),
        workflow_id: run.workflow_id.clone(),
        message: Bytes::from(body.to_string()),
        message_headers: vec![
            ("traceparent".to_owned(), traceparent),
            ("hookgate-org".to_owned(), run.org.to_string()),
        ],
        requested_at: at,
    }
}
