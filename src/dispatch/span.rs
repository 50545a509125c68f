//! The trace span of a delivery attempt (SPEC §14).

use crate::delivery::AttemptOutcome;
use crate::store::DueDelivery;

/// `delivery.attempt`: one attempt of one delivery, a child of its run event's trace.
pub(super) fn attempt(item: &DueDelivery) -> tracing::Span {
    use tracing::field::Empty;
    let span = tracing::info_span!("delivery.attempt", delivery.id = %item.delivery.id,
        endpoint.id = %item.endpoint.id, event.id = %item.event.id,
        attempt = item.delivery.attempts + 1, status = Empty,
        http.response.status_code = Empty, error.type = Empty);
    crate::telemetry::set_parent(&span, item.event.traceparent.as_deref());
    span
}

/// The attempt's outcome on its span: `delivered`, `failed` (with the error class)
/// or `gone`, and the answer's status.
pub(super) fn record_outcome(span: &tracing::Span, outcome: &AttemptOutcome) {
    match outcome {
        AttemptOutcome::Delivered { status } => {
            span.record("status", "delivered");
            span.record("http.response.status_code", status);
        }
        AttemptOutcome::Failed { class, status, .. } => {
            span.record("status", "failed");
            span.record("error.type", class.as_str());
            if let Some(status) = status {
                span.record("http.response.status_code", status);
            }
        }
        AttemptOutcome::Gone => {
            span.record("status", "gone");
            span.record("http.response.status_code", 410);
        }
    }
}
