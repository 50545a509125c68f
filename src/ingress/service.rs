//! The one front door of ingress: find the source, read the body within its limit,
//! verify, record, and count the outcome — in that order, in one place. The HTTP
//! handler only hands over the request and maps the answer.

use super::certificates::CertificateFetcher;
use super::confirm::spawn_confirm;
use super::{record, ActiveSource, IngressWriter, Receipt, Refusal, RejectionSampler, SourceCache};
use crate::crypto::Keyring;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::verify::{self, Handshake, SecretCandidate, SigningCertificate};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many sampled rejections a source keeps (`GET /v1/sources/{id}/rejections`).
pub const REJECTIONS_KEPT: usize = 50;

/// Why the body could not be read; the HTTP edge says which status each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Longer than the source's `max_body_bytes`.
    TooLarge,
    /// Slower than the body read timeout.
    TimedOut,
    /// Broken off or malformed on the wire.
    Unreadable,
}

pub struct Ingress {
    store: Arc<dyn Store>,
    keyring: Keyring,
    cache: Arc<SourceCache>,
    writer: IngressWriter,
    sampler: RejectionSampler,
    metrics: Arc<Metrics>,
    /// SNS signing certificates (and subscription confirmations).
    certificates: Arc<CertificateFetcher>,
}

impl Ingress {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Keyring,
        writer: IngressWriter,
        metrics: Arc<Metrics>,
        certificates: CertificateFetcher,
    ) -> Self {
        Self {
            store,
            keyring,
            // 1 s: the longest an expiry or disable made elsewhere may take to apply.
            cache: Arc::new(SourceCache::new(Duration::from_secs(1))),
            writer,
            // One sample per source per second: a flood of forgeries is not a flood
            // of writes.
            sampler: RejectionSampler::new(Duration::from_secs(1)),
            metrics,
            certificates: Arc::new(certificates),
        }
    }

    /// Forgets the cached source (changed through this instance: applies at once).
    pub fn invalidate(&self, source_id: &str) {
        self.cache.invalidate(source_id);
    }

    /// Receives one request for `source_id`, which the sender sent to `url` (the
    /// source's `ingress_url` and the request's query). `read_body` is given the
    /// source's body limit and reads the body within it. The outcome is counted here,
    /// once.
    pub async fn accept<F, Fut>(
        &self,
        source_id: &str,
        url: &str,
        headers: &HeaderMap,
        read_body: F,
        now: DateTime<Utc>,
    ) -> Result<Receipt, Refusal>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyRefusal>>,
    {
        let started = Instant::now();
        let active = match self.source(source_id).await {
            Ok(active) => active,
            Err(refusal) => {
                self.count("unknown", &Err(&refusal), started);
                return Err(refusal);
            }
        };
        let verifier = active.source.verifier.kind().as_str();
        let span = tracing::Span::current();
        span.record("source.id", active.source.id.as_str());
        span.record("verifier", verifier);
        let result = self.receive(&active, url, headers, read_body, now).await;
        let outcome = self.count(verifier, &result.as_ref(), started);
        self.metrics
            .activity
            .record(&active.source.org, &active.source.id, outcome, now);
        result
    }

    async fn receive<F, Fut>(
        &self,
        active: &ActiveSource,
        url: &str,
        headers: &HeaderMap,
        read_body: F,
        now: DateTime<Utc>,
    ) -> Result<Receipt, Refusal>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyRefusal>>,
    {
        let body = read_body(active.source.max_body_bytes)
            .await
            .map_err(Refusal::Body)?;
        let candidates = active.candidates(now);
        let certificate = match self.certificate(active, &candidates, &body, now).await {
            Ok(certificate) => certificate,
            Err(refusal) => {
                if let Refusal::Rejected(rejection) = &refusal {
                    self.refused(active, rejection, headers, now);
                } else {
                    tracing::warn!(error = %refusal, "webhook refused: signing certificate unavailable");
                }
                return Err(refusal);
            }
        };
        let verified = match verify::verify_with_certificate(
            &active.source.verifier,
            &candidates,
            headers,
            &body,
            url,
            certificate.as_deref(),
            now.timestamp(),
        ) {
            Ok(verified) => verified,
            Err(rejection) => {
                self.refused(active, &rejection, headers, now);
                return Err(Refusal::Rejected(rejection));
            }
        };
        // The subscription to confirm once the handshake is recorded (`auto_confirm`).
        let confirm = match verified.handshake() {
            Some(Handshake::SnsSubscriptionConfirmation {
                confirm_url: Some(url),
            }) => Some((
                url.clone(),
                verified.dedup_key().unwrap_or_default().to_owned(),
            )),
            _ => None,
        };
        // Another handle on the same buffer (no copy): `verified` borrows from it.
        let receipt = record(&self.writer, active, &verified, headers, body.clone(), now).await?;
        if let (Receipt::Handshake(_), Some((url, message_id))) = (&receipt, confirm) {
            spawn_confirm(
                Arc::clone(&self.certificates),
                Arc::clone(&self.metrics),
                active.source.id.clone(),
                message_id,
                url,
            );
        }
        Ok(receipt)
    }

    /// The signing certificate a request needs before it can be verified (SNS), fetched
    /// only once everything else about the request has been checked; `None` for every
    /// other scheme, at the cost of one `match`.
    async fn certificate(
        &self,
        active: &ActiveSource,
        candidates: &[SecretCandidate<'_>],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<SigningCertificate>>, Refusal> {
        let origins = self.certificates.origins();
        let url = verify::certificate_url(
            &active.source.verifier,
            candidates,
            body,
            origins,
            now.timestamp(),
        )
        .map_err(Refusal::Rejected)?;
        let Some(url) = url else {
            return Ok(None);
        };
        self.certificates
            .certificate(&url)
            .await
            .map(Some)
            .map_err(Refusal::Certificate)
    }

    /// Logs and samples a refused request.
    fn refused(
        &self,
        active: &ActiveSource,
        rejection: &verify::Rejection,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) {
        tracing::info!(reason = rejection.code(), "webhook refused");
        self.sample(active, rejection, headers, now);
    }

    /// The source from the short-lived cache, or loaded (and cached, also when unknown).
    async fn source(&self, source_id: &str) -> Result<Arc<ActiveSource>, Refusal> {
        let (store, keyring, id) = (
            Arc::clone(&self.store),
            self.keyring.clone(),
            source_id.to_owned(),
        );
        // The clock is read when the load runs: a reload ahead of expiry runs later.
        let load = move || async move {
            ActiveSource::load(store.as_ref(), &keyring, &id, Utc::now()).await
        };
        self.cache.source(source_id, load).await
    }

    fn count(
        &self,
        verifier: &'static str,
        result: &Result<&Receipt, &Refusal>,
        started: Instant,
    ) -> &'static str {
        let outcome = match result {
            Ok(receipt) => receipt.outcome(),
            Err(refusal) => refusal.outcome(),
        };
        tracing::Span::current().record("outcome", outcome);
        self.metrics
            .ingress_outcome(verifier, outcome, started.elapsed().as_secs_f64());
        outcome
    }

    /// Keeps a rate-limited sample of refusals, written off the request path.
    fn sample(
        &self,
        active: &ActiveSource,
        rejection: &crate::verify::Rejection,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) {
        if !self
            .sampler
            .should_sample(&active.source.id, Instant::now())
        {
            return;
        }
        let sample = super::rejection_sample(active, rejection, headers, now);
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            if let Err(error) = store.record_rejection(&sample, REJECTIONS_KEPT).await {
                tracing::warn!(%error, "cannot record rejection sample");
            }
        });
    }
}
