//! What a sender's scheme is (SPEC §3.2, §3.4): the [`Scheme`] trait each scheme file
//! implements, and the `schemes!` macro that turns the table in `schemes.rs` into
//! `VerifierConfig`, `VerifierKind` and the one `match` per question asked of them.

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue};
use rand::RngCore;

use super::aws_sns::certificate::SigningCertificate;
use super::aws_sns::origins::CertificateOrigins;
use super::error::{ConfigError, Rejection, SignError};
use super::prepared::PreparedSecret;
use super::{SecretCandidate, Verified};

/// Headers as `sign` returns them: `(name, value)`, names spelled as the sender does.
pub(crate) type Headers = Vec<(String, String)>;

/// One way of signing webhooks, and everything hookgate knows of it: the headers it
/// sends, how it is verified and signed, its secret's format. Implemented by a unit
/// struct in the scheme's own file and listed once, in `schemes.rs`; nothing else in
/// the crate matches on the kind.
///
/// The functions take no `self`: the table calls them on the type, so verifying is a
/// `match` and a direct call, as it would be written by hand.
pub(crate) trait Scheme {
    /// The options of the `verifier` object beside its `type` (`()` for a sender's own
    /// scheme, which takes none). Its serde shape is the wire shape.
    type Options;

    /// The sender's headers that travel with the run to the workflow (SPEC §4), lower
    /// case: event name, delivery id, timestamp, retry count and the like. Every
    /// sender's list is forwarded whatever the source's scheme (a `bearer` source may
    /// well receive GitHub's headers).
    const FORWARDED: &'static [&'static str];

    /// Headers carrying a signature or token, lower case. They never travel with the
    /// run; a test holds what each sender's scheme sends to `FORWARDED` ∪ these.
    const SIGNATURE_HEADERS: &'static [&'static str];

    /// Checks what serde cannot: header names, templates, field combinations.
    fn validate(_options: &Self::Options) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Verifies one request against every secret candidate (the contract of
    /// [`verify`](super::verify), which has checked that there is at least one): finds
    /// the de-dup key and event name, and a handshake to answer without a run. `url` is
    /// the URL the sender called (the source's `ingress_url` and the request's query),
    /// for the schemes that sign it.
    fn verify<'a>(
        options: &'a Self::Options,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        url: &'a str,
        now: i64,
    ) -> Result<Verified<'a>, Rejection>;

    /// [`verify`](Self::verify) with the signing certificate the ingress layer fetched
    /// from the URL [`certificate_url`](Self::certificate_url) named (`None`: none was).
    /// Only a scheme signed with a certificate it publishes (SNS) reads it; the others
    /// are `verify` itself.
    #[inline]
    fn verify_with_certificate<'a>(
        options: &'a Self::Options,
        secrets: &[SecretCandidate<'a>],
        headers: &'a HeaderMap,
        body: &'a [u8],
        url: &'a str,
        _certificate: Option<&SigningCertificate>,
        now: i64,
    ) -> Result<Verified<'a>, Rejection> {
        Self::verify(options, secrets, headers, body, url, now)
    }

    /// The certificate to fetch before verifying, for a scheme signed with a certificate
    /// it publishes: its URL once everything that can be checked without it has passed
    /// and the URL is on one of `origins`. `None`, the default: no certificate is needed.
    #[inline]
    fn certificate_url<'a>(
        _options: &'a Self::Options,
        _secrets: &[SecretCandidate<'a>],
        _body: &'a [u8],
        _origins: &CertificateOrigins,
        _now: i64,
    ) -> Result<Option<Cow<'a, str>>, Rejection> {
        Ok(None)
    }

    /// A secret (as stored) made ready for `verify`, once per loaded source: the key
    /// schedule `verify` starts from, or [`PreparedSecret::nothing`].
    fn prepare(options: &Self::Options, secret: &[u8]) -> PreparedSecret;

    /// The headers the sender sends with `body` to `url` at `now`, `msg_id` as its
    /// delivery id where it sends one; never an event-name header, which no sender signs
    /// (see [`event_name`](Self::event_name)). Values must read back unchanged
    /// ([`header`]). `secret` is what the sender signs with: the source's secret, or for
    /// a public-key scheme the private key matching it.
    fn sign(
        options: &Self::Options,
        secret: &[u8],
        body: &[u8],
        url: &str,
        now: i64,
        msg_id: &str,
    ) -> Result<Headers, SignError>;

    /// The body the sender sends when its signature travels inside it (Mailgun): `body`
    /// with the signature put in, for the headers `sign` returns. `None`, the default:
    /// the body is sent as given.
    fn sign_body(
        _options: &Self::Options,
        _secret: &[u8],
        _body: &[u8],
        _now: i64,
        _msg_id: &str,
    ) -> Result<Option<Vec<u8>>, SignError> {
        Ok(None)
    }

    /// Where the sender names the event (`hookgate sign --event`).
    fn event_name(options: &Self::Options) -> EventName<'_>;

    /// Headers the options name for the event name and de-dup key: they travel with the
    /// run like the senders' own `FORWARDED` ones.
    fn configured_headers(_options: &Self::Options) -> [Option<&str>; 2] {
        [None, None]
    }

    /// The header the options name for the signature or token (a configured scheme's;
    /// a sender's own are `SIGNATURE_HEADERS`).
    fn configured_signature_header(_options: &Self::Options) -> Option<&str> {
        None
    }

    /// A new secret in the form the sender's dashboard or library expects, or `None`
    /// when only the sender can make it (its public key): the operator provides it.
    fn new_secret(random: &mut dyn RngCore) -> Option<String> {
        Some(hex::encode(random_bytes::<32>(random)))
    }

    /// The sender's format, checked on a secret an operator provides, after hookgate's
    /// own rules (1 to 1024 bytes, no control characters or surrounding space). The
    /// message never repeats the value.
    fn check_secret(_value: &str) -> Result<(), &'static str> {
        Ok(())
    }

    /// Options worth exercising in the tests and fuzz targets, which also run the
    /// option-less configuration of each sender's scheme.
    #[cfg(any(test, fuzzing))]
    fn examples() -> Vec<Self::Options> {
        Vec::new()
    }

    /// For a public-key scheme, a fixed key pair for the tests and fuzz targets:
    /// `(signing key as `sign` takes it, public key as stored)`.
    #[cfg(any(test, fuzzing))]
    fn test_key_pair() -> Option<(&'static str, &'static str)> {
        None
    }

    /// For a scheme signed with a certificate it publishes, the certificate of
    /// [`test_key_pair`](Self::test_key_pair)'s private key, at the URL its test
    /// messages name.
    #[cfg(any(test, fuzzing))]
    fn test_certificate() -> Option<SigningCertificate> {
        None
    }

    /// For a scheme whose signed body has a shape of its own (an SNS message), a body
    /// `sign` and `sign_body` take; the others sign any body.
    #[cfg(any(test, fuzzing))]
    fn test_body() -> Option<&'static [u8]> {
        None
    }
}

/// Where a scheme's sender names the event (the name `event_filter` matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName<'o> {
    /// In this header, which no sender signs; `example` is what `hookgate sign` sends
    /// when not given one.
    Header {
        name: &'o str,
        example: Option<&'static str>,
    },
    /// In the (signed) body.
    Body,
    /// Nowhere: a sender that names no event (Twilio, HubSpot, SendGrid), or a
    /// configured scheme without an `event_header`.
    Unnamed,
}

/// `N` random bytes, for a new secret.
pub(crate) fn random_bytes<const N: usize>(random: &mut dyn RngCore) -> [u8; N] {
    let mut bytes = [0; N];
    random.fill_bytes(&mut bytes);
    bytes
}

/// One header of `Scheme::sign`'s output, checked with [`checked`].
pub(crate) fn header(name: &'static str, value: &str) -> Result<(String, String), SignError> {
    Ok((name.to_owned(), checked(value, name)?))
}

/// `value` if the verifier would read it back unchanged: visible ASCII and spaces, no
/// line breaks, nothing to trim, not empty.
pub(crate) fn checked(value: &str, name: &'static str) -> Result<String, SignError> {
    let readable = HeaderValue::from_str(value).is_ok_and(|v| v.to_str().is_ok());
    let valid = readable && !value.is_empty() && value.trim() == value;
    valid
        .then(|| value.to_owned())
        .ok_or(SignError::InvalidHeaderValue(name))
}

/// Builds the table: `VerifierConfig` (with its serde wire shape), `VerifierKind`, and
/// one `match` per question, each arm a call to the scheme's [`Scheme`] impl. Schemes
/// without options are unit variants (`{"type": "github"}`); schemes with options
/// carry them (`{"type": "hmac", "header": …}`).
macro_rules! schemes {
    (
        without_options {
            $( $plain:ident = $plain_name:literal => $plain_scheme:ty, )*
        }
        with_options {
            $( $opt:ident($opt_type:ty) = $opt_name:literal => $opt_scheme:ty, )*
        }
    ) => {
        /// How a source authenticates its sender (SPEC §3.2). The serde shape is the wire
        /// shape of SPEC §7.1: `{"type": "github"}`, `{"type": "hmac", "header": …}`, …
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(from = "Wire", into = "Wire")]
        pub enum VerifierConfig {
            $( $plain, )*
            $( $opt($opt_type), )*
        }

        /// The serde shape. Serde ignores extra keys beside the tag of a *unit* variant
        /// even with `deny_unknown_fields`, so the option-less types are empty struct
        /// variants here.
        #[derive(Serialize, Deserialize)]
        #[serde(tag = "type", deny_unknown_fields)]
        enum Wire {
            $( #[serde(rename = $plain_name)] $plain {}, )*
            $( #[serde(rename = $opt_name)] $opt($opt_type), )*
        }

        impl From<Wire> for VerifierConfig {
            fn from(wire: Wire) -> Self {
                match wire {
                    $( Wire::$plain {} => Self::$plain, )*
                    $( Wire::$opt(options) => Self::$opt(options), )*
                }
            }
        }

        impl From<VerifierConfig> for Wire {
            fn from(config: VerifierConfig) -> Self {
                match config {
                    $( VerifierConfig::$plain => Self::$plain {}, )*
                    $( VerifierConfig::$opt(options) => Self::$opt(options), )*
                }
            }
        }

        /// The closed set of verifier types, for metrics labels, logs and secrets.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum VerifierKind {
            $( $plain, )*
            $( $opt, )*
        }

        impl VerifierKind {
            /// Every kind, in the table's order.
            pub const ALL: &'static [Self] = &[ $( Self::$plain, )* $( Self::$opt, )* ];

            /// The `type` of the wire shape.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$plain => $plain_name, )*
                    $( Self::$opt => $opt_name, )*
                }
            }

            /// The sender's headers that travel with the run (`Scheme::FORWARDED`).
            pub fn forwarded_headers(self) -> &'static [&'static str] {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::FORWARDED, )*
                    $( Self::$opt => <$opt_scheme as Scheme>::FORWARDED, )*
                }
            }

            /// Headers that carry a signature or token (`Scheme::SIGNATURE_HEADERS`).
            pub fn signature_headers(self) -> &'static [&'static str] {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::SIGNATURE_HEADERS, )*
                    $( Self::$opt => <$opt_scheme as Scheme>::SIGNATURE_HEADERS, )*
                }
            }

            /// A new secret in the sender's format (`Scheme::new_secret`), `None` when
            /// only the sender can make one.
            pub fn new_secret(self, random: &mut dyn rand::RngCore) -> Option<String> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::new_secret(random), )*
                    $( Self::$opt => <$opt_scheme as Scheme>::new_secret(random), )*
                }
            }

            /// A fixed `(signing key, stored public key)` pair for a public-key scheme
            /// (`Scheme::test_key_pair`).
            #[cfg(any(test, fuzzing))]
            pub fn test_key_pair(self) -> Option<(&'static str, &'static str)> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::test_key_pair(), )*
                    $( Self::$opt => <$opt_scheme as Scheme>::test_key_pair(), )*
                }
            }

            /// The certificate of `test_key_pair`'s private key (`Scheme::test_certificate`).
            #[cfg(any(test, fuzzing))]
            pub fn test_certificate(self) -> Option<SigningCertificate> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::test_certificate(), )*
                    $( Self::$opt => <$opt_scheme as Scheme>::test_certificate(), )*
                }
            }

            /// A body of the scheme's own shape to sign, if it has one
            /// (`Scheme::test_body`).
            #[cfg(any(test, fuzzing))]
            pub fn test_body(self) -> Option<&'static [u8]> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::test_body(), )*
                    $( Self::$opt => <$opt_scheme as Scheme>::test_body(), )*
                }
            }

            /// A provided secret checked for the sender's format
            /// (`Scheme::check_secret`).
            pub fn check_secret(self, value: &str) -> Result<(), &'static str> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::check_secret(value), )*
                    $( Self::$opt => <$opt_scheme as Scheme>::check_secret(value), )*
                }
            }
        }

        impl VerifierConfig {
            pub fn kind(&self) -> VerifierKind {
                match self {
                    $( Self::$plain => VerifierKind::$plain, )*
                    $( Self::$opt(_) => VerifierKind::$opt, )*
                }
            }

            /// Checks what serde cannot: header names, the template, field combinations.
            pub fn validate(&self) -> Result<(), ConfigError> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::validate(&()), )*
                    $( Self::$opt(options) => <$opt_scheme as Scheme>::validate(options), )*
                }
            }

            /// Where the sender names the event (`Scheme::event_name`).
            pub fn event_name(&self) -> EventName<'_> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::event_name(&()), )*
                    $( Self::$opt(options) => <$opt_scheme as Scheme>::event_name(options), )*
                }
            }

            /// Headers this configuration names for the event name and de-dup key
            /// (schemes with options only): they travel with the run like the
            /// senders' own event headers.
            pub fn configured_headers(&self) -> Vec<&str> {
                let named = match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::configured_headers(&()), )*
                    $( Self::$opt(options) => {
                        <$opt_scheme as Scheme>::configured_headers(options)
                    } )*
                };
                named.into_iter().flatten().collect()
            }

            /// Every header that proves a request under this configuration, lower case:
            /// the scheme's signature headers and the one its options name. The event
            /// log keeps their values as `[redacted]`.
            pub fn signature_headers(&self) -> Vec<String> {
                let (fixed, configured) = match self {
                    $( Self::$plain => (
                        <$plain_scheme as Scheme>::SIGNATURE_HEADERS,
                        <$plain_scheme as Scheme>::configured_signature_header(&()),
                    ), )*
                    $( Self::$opt(options) => (
                        <$opt_scheme as Scheme>::SIGNATURE_HEADERS,
                        <$opt_scheme as Scheme>::configured_signature_header(options),
                    ), )*
                };
                fixed
                    .iter()
                    .map(|name| (*name).to_owned())
                    .chain(configured.map(str::to_ascii_lowercase))
                    .collect()
            }

            /// `Scheme::verify_with_certificate`; `verify()` is the entry.
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub(super) fn verify_request<'a>(
                &'a self,
                secrets: &[SecretCandidate<'a>],
                headers: &'a HeaderMap,
                body: &'a [u8],
                url: &'a str,
                certificate: Option<&SigningCertificate>,
                now: i64,
            ) -> Result<Verified<'a>, Rejection> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::verify_with_certificate(
                        &(), secrets, headers, body, url, certificate, now,
                    ), )*
                    $( Self::$opt(options) => <$opt_scheme as Scheme>::verify_with_certificate(
                        options, secrets, headers, body, url, certificate, now,
                    ), )*
                }
            }

            /// `Scheme::certificate_url`; `certificate_url()` is the entry.
            #[inline]
            pub(super) fn certificate_url<'a>(
                &'a self,
                secrets: &[SecretCandidate<'a>],
                body: &'a [u8],
                origins: &CertificateOrigins,
                now: i64,
            ) -> Result<Option<Cow<'a, str>>, Rejection> {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::certificate_url(
                        &(), secrets, body, origins, now,
                    ), )*
                    $( Self::$opt(options) => <$opt_scheme as Scheme>::certificate_url(
                        options, secrets, body, origins, now,
                    ), )*
                }
            }

            /// `Scheme::prepare`; `PreparedSecret::new` is the entry.
            pub(super) fn prepare(&self, secret: &[u8]) -> PreparedSecret {
                match self {
                    $( Self::$plain => <$plain_scheme as Scheme>::prepare(&(), secret), )*
                    $( Self::$opt(options) => <$opt_scheme as Scheme>::prepare(options, secret), )*
                }
            }

            /// `Scheme::sign`; `sign()` is the entry.
            pub(super) fn sign_request(
                &self,
                secret: &[u8],
                body: &[u8],
                url: &str,
                now: i64,
                msg_id: &str,
            ) -> Result<Headers, SignError> {
                match self {
                    $( Self::$plain => {
                        <$plain_scheme as Scheme>::sign(&(), secret, body, url, now, msg_id)
                    } )*
                    $( Self::$opt(options) => {
                        <$opt_scheme as Scheme>::sign(options, secret, body, url, now, msg_id)
                    } )*
                }
            }

            /// `Scheme::sign_body`; `sign_body()` is the entry.
            pub(super) fn sign_body_request(
                &self,
                secret: &[u8],
                body: &[u8],
                now: i64,
                msg_id: &str,
            ) -> Result<Option<Vec<u8>>, SignError> {
                match self {
                    $( Self::$plain => {
                        <$plain_scheme as Scheme>::sign_body(&(), secret, body, now, msg_id)
                    } )*
                    $( Self::$opt(options) => {
                        <$opt_scheme as Scheme>::sign_body(options, secret, body, now, msg_id)
                    } )*
                }
            }

            /// Each scheme without options, then the examples of the schemes with
            /// options (`Scheme::examples`), for the tests and fuzz targets.
            #[cfg(any(test, fuzzing))]
            pub fn examples() -> Vec<Self> {
                let mut examples = vec![ $( Self::$plain, )* ];
                $( examples.extend(<$opt_scheme as Scheme>::examples().into_iter().map(Self::$opt)); )*
                examples
            }
        }
    };
}

pub(crate) use schemes;
