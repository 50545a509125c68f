//! SNS signing certificates, fetched at the edge: verifiers do no I/O, so ingress
//! fetches the certificate a message names (`verify::certificate_url`, which answers
//! only for a message that passed every check but the signature, on an allowed origin)
//! and hands the parsed key to `verify::verify_with_certificate`.
//!
//! Fetched like a delivery: through the SSRF guard (`HOOKGATE_DELIVERY_ALLOW_CIDRS`
//! applies here too), no redirects, no proxy, within [`FETCH_TIMEOUT`] and
//! [`MAX_CERTIFICATE_BYTES`]. Cached by URL in a [`LoadingCache`] of
//! [`CACHE_ENTRIES`] for [`CACHE_LIFETIME`]: concurrent requests for one URL share one
//! fetch, an entry past half its life is refetched in the background, and a failure is
//! never cached (the next message tries again).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use reqwest::{redirect, Url};
use tokio::time::{timeout_at, Instant};

use super::cache::LoadingCache;
use crate::delivery::{Blocked, GuardedResolver, SsrfPolicy};
use crate::metrics::Metrics;
use crate::verify::{CertificateError, CertificateOrigins, SigningCertificate};

/// Longest a fetch may take, connecting included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// An SNS certificate is about 1.7 KiB of PEM; more is not one.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;
/// Certificates kept; SNS signs with one per region at a time.
pub const CACHE_ENTRIES: usize = 64;
/// How long a fetched certificate is used (refetched in the background after half).
/// SNS names a new certificate by a new URL, so this only bounds how long a withdrawn
/// one is still believed.
pub const CACHE_LIFETIME: Duration = Duration::from_secs(3_600);

const USER_AGENT: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

/// Why a certificate could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Blocked(#[from] Blocked),
    #[error("the certificate URL cannot be requested")]
    BadUrl,
    #[error("the certificate host did not answer within {FETCH_TIMEOUT:?}")]
    Timeout,
    #[error("the certificate host could not be reached")]
    Network(#[source] reqwest::Error),
    #[error("the certificate host answered HTTP {0}")]
    Status(u16),
    #[error("the certificate is larger than {MAX_CERTIFICATE_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Invalid(#[from] CertificateError),
}

impl FetchError {
    /// True when what the URL holds is at fault (the host refused it, or it is no
    /// certificate): a genuine SNS message names a certificate that exists, so the
    /// request is refused (401). Otherwise the host or the network failed, which no
    /// sender caused: 503, and SNS retries.
    pub fn is_sender_fault(&self) -> bool {
        match self {
            Self::Status(status) => (400..500).contains(status),
            Self::TooLarge | Self::Invalid(_) => true,
            Self::Blocked(_) | Self::BadUrl | Self::Timeout | Self::Network(_) => false,
        }
    }
}

/// The fetcher and its cache, one per process.
pub struct CertificateFetcher {
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    origins: CertificateOrigins,
    cache: Arc<LoadingCache<SigningCertificate>>,
    metrics: Arc<Metrics>,
}

impl CertificateFetcher {
    /// Fails only if the TLS backend cannot be set up.
    pub fn new(
        origins: CertificateOrigins,
        policy: SsrfPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&policy))))
            .no_proxy()
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self {
            client,
            policy,
            origins,
            cache: Arc::new(LoadingCache::bounded(CACHE_LIFETIME, CACHE_ENTRIES)),
            metrics,
        })
    }

    /// Where certificates and confirmations may be fetched from.
    pub fn origins(&self) -> &CertificateOrigins {
        &self.origins
    }

    /// The HTTP client, shared with subscription confirmations.
    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub(super) fn policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// The certificate at `url` (already checked against the origins by
    /// `verify::certificate_url`), from the cache or fetched once for every waiter.
    pub async fn certificate(&self, url: &str) -> Result<Arc<SigningCertificate>, FetchError> {
        let (client, policy, metrics, owned) = (
            self.client.clone(),
            Arc::clone(&self.policy),
            Arc::clone(&self.metrics),
            url.to_owned(),
        );
        let load = move || async move {
            let fetched = fetch(&client, &policy, &owned).await;
            metrics.certificate_fetched(match &fetched {
                Ok(_) => "fetched",
                Err(error) if error.is_sender_fault() => "invalid",
                Err(_) => "failed",
            });
            fetched.map(Some)
        };
        self.cache
            .get_or_load(url, load)
            .await?
            .ok_or(FetchError::BadUrl)
    }
}

async fn fetch(
    client: &reqwest::Client,
    policy: &SsrfPolicy,
    url: &str,
) -> Result<SigningCertificate, FetchError> {
    let deadline = Instant::now() + FETCH_TIMEOUT;
    let parsed = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
    policy.check_url(&parsed)?;
    let mut response = match timeout_at(deadline, client.get(parsed).send()).await {
        Err(_elapsed) => return Err(FetchError::Timeout),
        Ok(Err(error)) => return Err(FetchError::Network(error)),
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let mut pem = BytesMut::new();
    loop {
        match timeout_at(deadline, response.chunk()).await {
            Err(_elapsed) => return Err(FetchError::Timeout),
            Ok(Err(error)) => return Err(FetchError::Network(error)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if pem.len() + chunk.len() > MAX_CERTIFICATE_BYTES {
                    return Err(FetchError::TooLarge);
                }
                pem.extend_from_slice(&chunk);
            }
        }
    }
    Ok(SigningCertificate::from_pem(url, &pem)?)
}
