//! Receiving one inbound webhook (SPEC §3): find the source, verify exactly as the
//! sender signs, then record the event and its run (with its outbox row) in one
//! transaction. Only then does the caller answer 2xx.
//!
//! [`Ingress::accept`] is the one entry: the HTTP handler (`http/ingress.rs`) hands it
//! the request and a body reader, and maps [`Receipt`] and [`Refusal`] to responses.

mod cache;
mod certificates;
mod confirm;
mod detail;
mod forwarded;
mod janitor;
mod kept;
mod sampler;
mod service;
mod shed;
mod writer;

pub use cache::SourceCache;
pub use certificates::{CertificateFetcher, FetchError};
pub use confirm::{confirm, Confirmation};
pub use forwarded::forwarded_headers;
pub use janitor::EventLogJanitor;
pub use kept::{credential_headers, kept_headers, REDACTED};
pub use sampler::RejectionSampler;
pub use service::{BodyRefusal, Ingress, REJECTIONS_KEPT};
pub use writer::{IngressWriter, RelayLink, WriteError, WriterConfig};

use crate::crypto::{Keyring, Secret};
use crate::id::new_id;
use crate::runs::{self, Origin, RunSpec};
use crate::secrets::open_active;
use crate::store::{
    AcceptOutcome, EventDisposition, EventWrite, NewEvent, Rejected, RunStatus, Source, Store,
    StoreError,
};
use crate::verify::{self, Handshake, PreparedSecret, Rejection, SecretCandidate};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use std::time::Duration;

/// De-dup keys answer "duplicate" for this long (SPEC §3.3: at least 72 h).
pub const DEDUP_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// What the sender gets back on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Accepted {
        event_id: String,
        run_id: String,
    },
    Duplicate {
        event_id: String,
        run_id: String,
        status: RunStatus,
    },
    Ignored {
        event_id: String,
    },
    Handshake(Handshake),
}

impl Receipt {
    /// The `outcome` label of `hookgate_ingress_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Receipt::Accepted { .. } => "accepted",
            Receipt::Duplicate { .. } => "duplicate",
            Receipt::Ignored { .. } => "ignored",
            Receipt::Handshake(_) => "handshake",
        }
    }
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Unknown, deleted or disabled source: all look the same to the caller.
    #[error("no such source")]
    UnknownSource,
    #[error("the body could not be read: {0:?}")]
    Body(BodyRefusal),
    #[error("request refused: {0}")]
    Rejected(#[source] Rejection),
    /// The signing certificate the message names could not be had (SNS).
    #[error("signing certificate: {0}")]
    Certificate(#[source] FetchError),
    #[error("store unavailable")]
    Store(#[from] StoreError),
    #[error("over capacity")]
    Overloaded,
    /// Verified, but a key read from it cannot be stored: refused with a 4xx so the
    /// sender sees why, instead of a 503 it would retry forever.
    #[error(transparent)]
    Unstorable(#[from] crate::storable::Unstorable),
}

impl Refusal {
    /// The `outcome` label of `hookgate_ingress_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::UnknownSource => "not_found",
            Refusal::Body(BodyRefusal::TooLarge) => "too_large",
            Refusal::Body(_) => "unreadable",
            // No active or usable secret: nothing the sender can fix, counted apart so
            // an SRE can alert on it.
            Refusal::Rejected(rejection) if !rejection.is_sender_fault() => "misconfigured",
            Refusal::Rejected(_) => "rejected",
            Refusal::Certificate(error) if error.is_sender_fault() => "rejected",
            Refusal::Certificate(_) => "certificate_unavailable",
            Refusal::Store(_) => "unavailable",
            Refusal::Overloaded => "overloaded",
            Refusal::Unstorable(_) => "unstorable",
        }
    }
}

impl From<WriteError> for Refusal {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Overloaded => Refusal::Overloaded,
            WriteError::Unavailable => {
                Refusal::Store(StoreError::Unavailable("ingress writer".into()))
            }
            WriteError::Refused(field) => Refusal::Store(StoreError::Refused(field)),
        }
    }
}

/// A source ready to verify against: the record and its active secrets, opened.
pub struct ActiveSource {
    pub source: Source,
    secrets: Vec<ActiveSecret>,
    /// The headers the event log redacts for this source's verifier.
    credential_headers: Vec<String>,
}

/// One opened secret of a source, with its key schedule made ready for the source's
/// verifier (a cached source verifies many requests with it).
struct ActiveSecret {
    id: String,
    secret: Secret,
    prepared: PreparedSecret,
    /// Checked again at each verification, so a grace period ends on time even for a
    /// cached source.
    expires_at: Option<DateTime<Utc>>,
    /// As the API shows it, for rejection details.
    fingerprint: String,
}

impl ActiveSource {
    /// Loads an enabled source and opens its unexpired secrets.
    pub async fn load(
        store: &dyn Store,
        keyring: &Keyring,
        source_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, Refusal> {
        let source = match store.find_source(source_id).await? {
            Some(source) if source.enabled => source,
            _ => return Err(Refusal::UnknownSource),
        };
        let stored = store.list_secrets(&source.id).await?;
        let known: std::collections::HashMap<&str, (Option<DateTime<Utc>>, &str)> = stored
            .iter()
            .map(|s| (s.id.as_str(), (s.expires_at, s.fingerprint.as_str())))
            .collect();
        let secrets = open_active(keyring, &stored, now)
            .into_iter()
            .map(|(id, secret)| ActiveSecret {
                expires_at: known.get(id.as_str()).and_then(|(at, _)| *at),
                fingerprint: known
                    .get(id.as_str())
                    .map(|(_, fingerprint)| (*fingerprint).to_owned())
                    .unwrap_or_default(),
                prepared: PreparedSecret::new(&source.verifier, secret.expose()),
                id,
                secret,
            })
            .collect();
        Ok(Self {
            secrets,
            credential_headers: credential_headers(&source.verifier),
            source,
        })
    }

    /// Fingerprints of the secrets a request at `now` is verified against.
    pub fn fingerprints(&self, now: DateTime<Utc>) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|active| active.expires_at.is_none_or(|at| at > now))
            .map(|active| active.fingerprint.clone())
            .collect()
    }

    /// The secrets a request at `now` is verified against.
    pub fn candidates(&self, now: DateTime<Utc>) -> Vec<SecretCandidate<'_>> {
        self.secrets
            .iter()
            .filter(|active| active.expires_at.is_none_or(|at| at > now))
            .map(|active| SecretCandidate {
                id: &active.id,
                value: active.secret.expose(),
                prepared: Some(&active.prepared),
            })
            .collect()
    }
}

/// Records a verified request and says what to answer.
async fn record(
    writer: &IngressWriter,
    active: &ActiveSource,
    verified: &verify::Verified<'_>,
    headers: &HeaderMap,
    body: Bytes,
    received_at: DateTime<Utc>,
) -> Result<Receipt, Refusal> {
    crate::storable::check_key("dedup_key", verified.dedup_key())?;
    crate::storable::check_key("event_name", verified.event_name())?;
    let source = &active.source;
    let handshake = verified.handshake();
    let admitted = handshake.is_none() && source.admits(verified.event_name());
    // Exported, the run continues the request's span (`ingress.receive`).
    let traceparent = crate::telemetry::current_or_child(
        headers.get("traceparent").and_then(|v| v.to_str().ok()),
    );
    let selected = forwarded_headers(headers, &source.verifier.configured_headers());
    let event_id = new_id("evt");
    let run = admitted.then(|| {
        runs::new_run(RunSpec {
            id: new_id("run"),
            org: &source.org,
            workflow_id: &source.workflow_id,
            origin: Some(Origin {
                source_id: &source.id,
                verifier: source.verifier.kind().as_str(),
                event_id: &event_id,
                replay: false,
            }),
            at: received_at,
            input: &body,
            headers: &selected,
            traceparent: traceparent.clone(),
            retry_of: None,
        })
    });
    // Built after the message, so the selected headers move into the event uncloned.
    let event = NewEvent {
        id: event_id,
        org: source.org.clone(),
        source_id: source.id.clone(),
        dedup_key: verified.dedup_key().map(str::to_owned),
        event_name: verified.event_name().map(str::to_owned),
        secret_id: verified.secret_id().to_owned(),
        disposition: if handshake.is_some() {
            EventDisposition::Handshake
        } else if admitted {
            EventDisposition::Accepted
        } else {
            EventDisposition::Ignored
        },
        traceparent,
        headers: serde_json::Value::Object(kept_headers(headers, &active.credential_headers)),
        body,
        received_at,
        dedup_window: DEDUP_WINDOW,
    };
    let new_event_id = event.id.clone();
    let new_run_id = run.as_ref().map(|r| r.id.clone());
    match writer.write(EventWrite { event, run }).await? {
        AcceptOutcome::Duplicate {
            event_id,
            run_id,
            run_status,
        } => Ok(Receipt::Duplicate {
            event_id,
            run_id,
            status: run_status,
        }),
        AcceptOutcome::Recorded => Ok(match (new_run_id, handshake) {
            (_, Some(handshake)) => Receipt::Handshake(handshake.clone()),
            (Some(run_id), None) => Receipt::Accepted {
                event_id: new_event_id,
                run_id,
            },
            (None, None) => Receipt::Ignored {
                event_id: new_event_id,
            },
        }),
    }
}

/// The sample line for a rejected request: header names (never values) and what
/// failed.
pub fn rejection_sample(
    active: &ActiveSource,
    rejection: &Rejection,
    headers: &HeaderMap,
    at: DateTime<Utc>,
) -> Rejected {
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    Rejected {
        id: new_id("rej"),
        source_id: active.source.id.clone(),
        at,
        reason: rejection.code().to_owned(),
        detail: detail::rejection_detail(rejection, &names, &active.fingerprints(at)),
        headers_present: names,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_faults_are_counted_apart_from_sender_faults() {
        let cases = [
            (Refusal::Rejected(Rejection::SignatureMismatch), "rejected"),
            (
                Refusal::Rejected(Rejection::TimestampOutOfTolerance {
                    age_s: 400,
                    tolerance_s: 300,
                }),
                "rejected",
            ),
            (
                Refusal::Rejected(Rejection::NoActiveSecret),
                "misconfigured",
            ),
            (
                Refusal::Rejected(Rejection::UnusableSecrets),
                "misconfigured",
            ),
            (Refusal::UnknownSource, "not_found"),
            (Refusal::Body(BodyRefusal::TooLarge), "too_large"),
            (Refusal::Body(BodyRefusal::TimedOut), "unreadable"),
            (Refusal::Overloaded, "overloaded"),
        ];
        for (refusal, outcome) in cases {
            assert_eq!(refusal.outcome(), outcome, "{refusal:?}");
            assert!(
                crate::metrics::labels::INGRESS_OUTCOMES.contains(&outcome),
                "{outcome} is not created at start"
            );
        }
        let more = [
            Refusal::Store(StoreError::Unavailable("test".into())),
            Refusal::Body(BodyRefusal::Unreadable),
        ];
        for refusal in more {
            assert!(crate::metrics::labels::INGRESS_OUTCOMES.contains(&refusal.outcome()));
        }
        for outcome in [
            "accepted",
            "duplicate",
            "ignored",
            "handshake",
            "unstorable",
        ] {
            assert!(crate::metrics::labels::INGRESS_OUTCOMES.contains(&outcome));
        }
    }
}
