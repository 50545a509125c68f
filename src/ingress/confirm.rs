//! Confirming an SNS subscription (`auto_confirm`): a GET of the `SubscribeURL` of a
//! verified `SubscriptionConfirmation`, after the message is recorded, off the request
//! path. Only a URL on an allowed origin is called (the certificate origins: SNS's own
//! hosts by default), through the SSRF guard, once, within [`FETCH_TIMEOUT`]. The
//! outcome is logged with the source and message ids and counted
//! (`hookgate_sns_confirmations_total`); a failed confirmation is not retried here:
//! SNS sends the confirmation again, and the operator can confirm with the URL kept in
//! the recorded body.

use std::sync::Arc;

use reqwest::Url;
use tokio::time::timeout;

use super::certificates::{CertificateFetcher, FETCH_TIMEOUT};
use crate::metrics::Metrics;

/// How one confirmation went, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// SNS answered 2xx.
    Confirmed,
    /// Called, without a 2xx answer.
    Failed,
    /// Not called: not on an allowed origin, or refused by the SSRF guard.
    Refused,
}

impl Confirmation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

/// Calls `url` to confirm the subscription of `source_id` (SNS message `message_id`).
pub async fn confirm(
    fetcher: &CertificateFetcher,
    metrics: &Metrics,
    source_id: &str,
    message_id: &str,
    url: &str,
) -> Confirmation {
    let outcome = call(fetcher, url).await;
    metrics.confirmation(outcome.as_str());
    match outcome {
        Confirmation::Confirmed => {
            tracing::info!(
                source.id = source_id,
                message.id = message_id,
                "SNS subscription confirmed"
            );
        }
        Confirmation::Failed | Confirmation::Refused => tracing::warn!(
            source.id = source_id,
            message.id = message_id,
            outcome = outcome.as_str(),
            "SNS subscription not confirmed; confirm with the SubscribeURL of the recorded event"
        ),
    }
    outcome
}

async fn call(fetcher: &CertificateFetcher, url: &str) -> Confirmation {
    if !fetcher.origins().permits_confirmation(url) {
        return Confirmation::Refused;
    }
    let Ok(parsed) = Url::parse(url) else {
        return Confirmation::Refused;
    };
    if fetcher.policy().check_url(&parsed).is_err() {
        return Confirmation::Refused;
    }
    match timeout(FETCH_TIMEOUT, fetcher.client().get(parsed).send()).await {
        Ok(Ok(response)) if response.status().is_success() => Confirmation::Confirmed,
        _ => Confirmation::Failed,
    }
}

/// Runs [`confirm`] in the background: the sender's answer does not wait for SNS.
pub fn spawn_confirm(
    fetcher: Arc<CertificateFetcher>,
    metrics: Arc<Metrics>,
    source_id: String,
    message_id: String,
    url: String,
) {
    tokio::spawn(async move {
        confirm(&fetcher, &metrics, &source_id, &message_id, &url).await;
    });
}
