//! Where an SNS signing certificate may be fetched from, and a `SubscribeURL` confirmed
//! at: a list of origins (`https://sns.*.amazonaws.com`), `*` standing for one DNS label.
//!
//! The default is what AWS's validators accept (`sns-validator` 0.3.5's
//! `defaultHostPattern`, `^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`, over HTTPS
//! only, on the default port): an SNS signature proves only what the certificate at
//! that URL proves, so the URL must be AWS's. The operator may add origins
//! (`HOOKGATE_SNS_CERTIFICATE_ORIGINS`); an `http://` origin is plain HTTP to that one
//! origin, for a test server, never a downgrade of the others.
//!
//! URLs are read strictly, without a general URL parser: `scheme://host[:port]/path`,
//! no user info, no percent-encoding in the host, and for a certificate no query or
//! fragment and a path ending in `.pem`. A URL this refuses is never fetched.

use std::fmt;

/// The default list: SNS in every commercial and China region.
pub const DEFAULT_CERTIFICATE_ORIGINS: &str =
    "https://sns.*.amazonaws.com,https://sns.*.amazonaws.com.cn";

/// The origins a certificate or confirmation URL may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateOrigins {
    origins: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    /// Lower-case labels; `None` is `*`.
    labels: Vec<Option<String>>,
    port: u16,
}

impl Default for CertificateOrigins {
    fn default() -> Self {
        // The constant is written to parse; a test holds it to that.
        Self::parse(DEFAULT_CERTIFICATE_ORIGINS).unwrap_or(Self {
            origins: Vec::new(),
        })
    }
}

/// A URL split into the parts the allow-list looks at.
struct Parts<'u> {
    https: bool,
    host: &'u str,
    port: u16,
    /// From the first `/`, query included.
    rest: &'u str,
}

fn split(url: &str, wildcards: bool) -> Option<Parts<'_>> {
    let (https, after) = if let Some(after) = url.strip_prefix("https://") {
        (true, after)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let slash = after.find('/')?;
    let (authority, rest) = after.split_at(slash);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, parse_port(port)?),
        None => (authority, if https { 443 } else { 80 }),
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || (wildcards && b == b'*')
        });
    let rest_ok = !rest.contains('#') && rest.bytes().all(|b| b.is_ascii_graphic());
    (host_ok && rest_ok).then_some(Parts {
        https,
        host,
        port,
        rest,
    })
}

fn parse_port(text: &str) -> Option<u16> {
    let valid = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| text.parse().ok()).flatten()
}

impl Origin {
    fn parse(text: &str) -> Result<Self, String> {
        let with_path = format!("{}/", text.trim_end_matches('/'));
        let parts = split(&with_path, true)
            .filter(|p| p.rest == "/")
            .ok_or_else(|| format!("`{text}` is not an origin like https://sns.*.amazonaws.com"))?;
        let labels: Vec<Option<String>> = parts
            .host
            .split('.')
            .map(|label| (label != "*").then(|| label.to_ascii_lowercase()))
            .collect();
        let stray_wildcard = labels.iter().flatten().any(|l| l.contains('*'));
        if stray_wildcard || labels.iter().any(|l| l.as_deref() == Some("")) {
            return Err(format!("`{text}` has an empty host label"));
        }
        if labels.len() < 2 || labels.iter().all(Option::is_none) {
            return Err(format!("`{text}` must name a domain, not only wildcards"));
        }
        Ok(Self {
            https: parts.https,
            labels,
            port: parts.port,
        })
    }

    fn matches(&self, parts: &Parts<'_>) -> bool {
        if self.https != parts.https || self.port != parts.port {
            return false;
        }
        let labels: Vec<&str> = parts.host.split('.').collect();
        labels.len() == self.labels.len()
            && labels
                .iter()
                .zip(&self.labels)
                .all(|(got, want)| match want {
                    Some(want) => got.eq_ignore_ascii_case(want),
                    None => !got.is_empty(),
                })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host: Vec<&str> = self
            .labels
            .iter()
            .map(|l| l.as_deref().unwrap_or("*"))
            .collect();
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        write!(f, "{scheme}://{}", host.join("."))?;
        if self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl CertificateOrigins {
    /// A comma-separated list of origins; empty allows none (no SNS source can verify).
    pub fn parse(list: &str) -> Result<Self, String> {
        let origins = list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(Origin::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { origins })
    }

    /// Whether `url` may be fetched as a signing certificate: an allowed origin, a path
    /// ending in `.pem`, no query.
    pub fn permits_certificate(&self, url: &str) -> bool {
        split(url, false).is_some_and(|parts| {
            !parts.rest.contains('?') && parts.rest.ends_with(".pem") && self.permits(&parts)
        })
    }

    /// Whether `url` (a `SubscribeURL`) may be called to confirm a subscription.
    pub fn permits_confirmation(&self, url: &str) -> bool {
        split(url, false).is_some_and(|parts| self.permits(&parts))
    }

    fn permits(&self, parts: &Parts<'_>) -> bool {
        self.origins.iter().any(|origin| origin.matches(parts))
    }
}

impl fmt::Display for CertificateOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.origins.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_allows_aws_sns_certificates_and_nothing_else() {
        let origins = CertificateOrigins::default();
        assert_eq!(origins.to_string(), DEFAULT_CERTIFICATE_ORIGINS);
        let allowed = [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-3242f6ee1a8d5e0f4b0f3c0c4ba8e9d6.pem",
            "https://SNS.eu-west-1.AMAZONAWS.com/a.pem",
            "https://sns.us-east-1.amazonaws.com:443/a.pem",
        ];
        for url in allowed {
            assert!(origins.permits_certificate(url), "{url}");
        }
        let refused = [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com:8443/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.amazonaws.com/a.pem",
            "https://s3.us-east-1.amazonaws.com/a.pem",
            "https://sns.a.b.amazonaws.com/a.pem",
            "https://user@sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem?x",
            "https://sns.us-east-1.amazonaws.com/a.pem#x",
            "https://sns.us-east-1.amazonaws.com/a.txt",
            "https://sns.us-east-1.amazonaws.com/a?b=.pem",
            "https://sns.us-east-1.amazonaws.com",
            "https://sns..amazonaws.com/a.pem",
            "https://sns.us%2deast-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a b.pem",
            "ftp://sns.us-east-1.amazonaws.com/a.pem",
            "",
        ];
        for url in refused {
            assert!(!origins.permits_certificate(url), "{url}");
        }
    }

    #[test]
    fn a_confirmation_url_may_carry_a_query_on_an_allowed_origin() {
        let origins = CertificateOrigins::default();
        let url = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37";
        assert!(origins.permits_confirmation(url));
        assert!(!origins.permits_certificate(url));
        assert!(!origins.permits_confirmation("https://evil.example/?Action=ConfirmSubscription"));
    }

    #[test]
    fn an_added_plain_http_origin_allows_only_that_origin() {
        let origins =
            CertificateOrigins::parse("https://sns.*.amazonaws.com, http://127.0.0.1:4567")
                .unwrap();
        assert!(origins.permits_certificate("http://127.0.0.1:4567/cert.pem"));
        assert!(!origins.permits_certificate("http://127.0.0.1:4568/cert.pem"));
        assert!(!origins.permits_certificate("http://sns.us-east-1.amazonaws.com/a.pem"));
        assert!(origins.permits_certificate("https://sns.us-east-1.amazonaws.com/a.pem"));
        assert_eq!(
            origins.to_string(),
            "https://sns.*.amazonaws.com,http://127.0.0.1:4567"
        );
    }

    #[test]
    fn lists_that_are_not_origins_are_refused() {
        for list in [
            "sns.*.amazonaws.com",
            "https://sns.*.amazonaws.com/path",
            "https://*",
            "https://*.*",
            "https://a..b",
            "https://a.b:99999",
            "https://user@a.b",
        ] {
            assert!(CertificateOrigins::parse(list).is_err(), "{list}");
        }
        assert_eq!(CertificateOrigins::parse("").unwrap().to_string(), "");
    }
}
