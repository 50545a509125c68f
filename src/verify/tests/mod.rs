//! Vector tables for every verifier, run through one [`check`] helper (STYLE §4).

#![allow(clippy::unwrap_used)]

mod atlassian;
mod aws_sns;
mod bearer;
mod config;
mod corpus;
mod discord;
mod github;
mod gitlab;
mod hmac_generic;
mod hubspot;
mod intercom;
mod linear;
mod mailgun;
mod paddle;
mod pagerduty;
mod schemes;
mod sendgrid;
mod shopify;
mod sign;
mod slack;
mod square;
mod standard_webhooks;
mod standard_webhooks_headers;
mod stripe;
mod twilio;
mod typeform;
mod vectors;
mod zendesk;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use super::{
    certificate_url, verify_with_certificate, CertificateOrigins, Handshake, PreparedSecret,
    SecretCandidate, VerifierConfig,
};

/// The URL the sender calls in the tables (Twilio, Square and HubSpot sign it).
pub(super) const URL: &str = "https://hooks.example.com/v1/ingress/src_1";

/// One request and what `verify` must make of it.
pub(super) struct Case {
    pub(super) name: &'static str,
    /// The URL the sender called: [`URL`] unless a case says otherwise ([`Case::at`]).
    pub(super) url: String,
    pub(super) secrets: Vec<(&'static str, Vec<u8>)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) now: i64,
    pub(super) expect: Expect,
}

pub(super) fn case(
    name: &'static str,
    secrets: &[(&'static str, &[u8])],
    headers: &[(&str, &str)],
    body: &[u8],
    now: i64,
    expect: Expect,
) -> Case {
    Case {
        name,
        url: URL.to_owned(),
        secrets: secrets.iter().map(|(id, v)| (*id, v.to_vec())).collect(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_vec(),
        now,
        expect,
    }
}

impl Case {
    /// The same request, sent to `url`.
    pub(super) fn at(mut self, url: &str) -> Self {
        self.url = url.to_owned();
        self
    }
}

#[derive(Debug)]
pub(super) enum Expect {
    Accept(Want),
    /// The `Rejection::code()` expected.
    Reject(&'static str),
}

/// What an accepted request must carry; `None` fields are not checked.
#[derive(Debug, Default)]
pub(super) struct Want {
    secret_id: &'static str,
    dedup_key: Option<Option<&'static str>>,
    event_name: Option<Option<&'static str>>,
    handshake: Option<Option<Handshake>>,
}

pub(super) fn accept(secret_id: &'static str) -> Expect {
    Expect::Accept(Want {
        secret_id,
        ..Want::default()
    })
}

pub(super) fn reject(code: &'static str) -> Expect {
    Expect::Reject(code)
}

impl Expect {
    fn want(mut self, set: impl FnOnce(&mut Want)) -> Self {
        if let Expect::Accept(want) = &mut self {
            set(want);
        }
        self
    }
    pub(super) fn dedup(self, key: Option<&'static str>) -> Self {
        self.want(|w| w.dedup_key = Some(key))
    }
    pub(super) fn event(self, name: Option<&'static str>) -> Self {
        self.want(|w| w.event_name = Some(name))
    }
    pub(super) fn handshake(self, handshake: Option<Handshake>) -> Self {
        self.want(|w| w.handshake = Some(handshake))
    }
}

/// Runs every case and reports all failures at once.
pub(super) fn check(config: &VerifierConfig, cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run(config, case)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs a case with plain secrets, then with the same secrets prepared for `config` (as
/// a cached source holds them), and with secrets prepared for another scheme (which must
/// be ignored): preparation may only save work, never change an outcome.
///
/// As ingress does, a certificate is asked for first (`certificate_url`, with the default
/// origins) and "fetched": the scheme's test certificate is served at its own URL and
/// nothing anywhere else.
fn run(config: &VerifierConfig, case: &Case) -> Result<(), String> {
    let origins = CertificateOrigins::default();
    let served = config.kind().test_certificate();
    let other = match config {
        VerifierConfig::StandardWebhooks => VerifierConfig::Stripe,
        _ => VerifierConfig::StandardWebhooks,
    };
    let headers = header_map(&case.headers)?;
    for prepare_for in [None, Some(config), Some(&other)] {
        let prepared: Vec<Option<PreparedSecret>> = case
            .secrets
            .iter()
            .map(|(_, value)| prepare_for.map(|c| PreparedSecret::new(c, value)))
            .collect();
        let secrets: Vec<SecretCandidate<'_>> = case
            .secrets
            .iter()
            .zip(&prepared)
            .map(|((id, value), prepared)| SecretCandidate {
                id,
                value,
                prepared: prepared.as_ref(),
            })
            .collect();
        let got =
            certificate_url(config, &secrets, &case.body, &origins, case.now).and_then(|url| {
                let fetched = url.and_then(|url| served.as_ref().filter(|c| c.url() == url));
                verify_with_certificate(
                    config, &secrets, &headers, &case.body, &case.url, fetched, case.now,
                )
            });
        let which = match prepare_for {
            None => "plain secrets",
            Some(c) if c == config => "prepared secrets",
            Some(_) => "secrets prepared for another scheme",
        };
        judge(case, got).map_err(|e| format!("{which}: {e}"))?;
    }
    Ok(())
}

fn judge(case: &Case, got: Result<super::Verified<'_>, super::Rejection>) -> Result<(), String> {
    match (&case.expect, got) {
        (Expect::Reject(code), Err(rejection)) if rejection.code() == *code => {
            no_leaks(&rejection.to_string(), case)
        }
        (Expect::Accept(want), Ok(v)) => {
            let mismatch = v.secret_id() != want.secret_id
                || want.dedup_key.is_some_and(|d| v.dedup_key() != d)
                || want.event_name.is_some_and(|e| v.event_name() != e)
                || want
                    .handshake
                    .as_ref()
                    .is_some_and(|h| v.handshake() != h.as_ref());
            if mismatch {
                return Err(format!("accepted as {v:?}, want {want:?}"));
            }
            Ok(())
        }
        (expect, got) => Err(format!("got {got:?}, want {expect:?}")),
    }
}

/// Rejection messages must not echo secrets or received header values (other than names).
fn no_leaks(message: &str, case: &Case) -> Result<(), String> {
    let secrets = case
        .secrets
        .iter()
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let values = case.headers.iter().map(|(_, v)| v.trim().to_owned());
    match secrets
        .chain(values)
        .find(|s| s.len() >= 8 && message.contains(s.as_str()))
    {
        Some(leak) => Err(format!("message {message:?} leaks {leak:?}")),
        None => Ok(()),
    }
}

pub(super) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("{name}: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// HMAC-SHA1, computed here independently of the code under test.
pub(super) fn hmac1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap();
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA256, computed here independently of the code under test.
pub(super) fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
