//! The `detail` of a sampled rejection (SPEC §11): which check failed and by how much,
//! in words an SRE can act on without the secret — never a secret, a signature value
//! or the body. Pure; the facts come from the rejection, the request's header names
//! and the fingerprints of the secrets tried.

use crate::verify::Rejection;

/// One line saying why, e.g. `signature matches none of 2 active secrets
/// (fingerprints 1a2b3c4d, 5e6f7a8b)` or `header x-hub-signature-256 missing; present:
/// content-type, x-hub-signature`.
pub fn rejection_detail(
    rejection: &Rejection,
    present: &[String],
    fingerprints: &[String],
) -> String {
    let none_of = |what: &str| match fingerprints {
        [only] => format!("{what} does not match the active secret (fingerprint {only})"),
        all => format!(
            "{what} matches none of {} active secrets (fingerprints {})",
            all.len(),
            all.join(", ")
        ),
    };
    let present = || {
        if present.is_empty() {
            "no headers".to_owned()
        } else {
            present.join(", ")
        }
    };
    match rejection {
        Rejection::MissingHeader(name) => format!("header {name} missing; present: {}", present()),
        Rejection::SignatureMismatch => none_of("signature"),
        Rejection::TokenMismatch => none_of("token"),
        Rejection::TimestampOutOfTolerance { age_s, tolerance_s } if *age_s < 0 => {
            let ahead = age_s.unsigned_abs();
            format!("timestamp {ahead} s in the future, tolerance {tolerance_s} s")
        }
        Rejection::TimestampOutOfTolerance { age_s, tolerance_s } => {
            format!("timestamp {age_s} s old, tolerance {tolerance_s} s")
        }
        Rejection::NoActiveSecret => "the source has no unexpired secret: rotate one in".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    #[test]
    fn each_rejection_says_what_failed_without_secrets_or_values() {
        let present = vec!["content-type".to_owned(), "x-hub-signature".to_owned()];
        let two = vec!["1a2b3c4d".to_owned(), "5e6f7a8b".to_owned()];
        let one = vec!["1a2b3c4d".to_owned()];
        let cases: [(Rejection, &[String], &[String], &str); 8] = [
            (
                Rejection::TimestampOutOfTolerance {
                    age_s: 412,
                    tolerance_s: 300,
                },
                &present,
                &one,
                "timestamp 412 s old, tolerance 300 s",
            ),
            (
                Rejection::TimestampOutOfTolerance {
                    age_s: -900,
                    tolerance_s: 300,
                },
                &present,
                &one,
                "timestamp 900 s in the future, tolerance 300 s",
            ),
            (
                Rejection::MissingHeader(HeaderName::from_static("x-hub-signature-256")),
                &present,
                &two,
                "header x-hub-signature-256 missing; present: content-type, x-hub-signature",
            ),
            (
                Rejection::MissingHeader(HeaderName::from_static("stripe-signature")),
                &[],
                &one,
                "header stripe-signature missing; present: no headers",
            ),
            (
                Rejection::SignatureMismatch,
                &present,
                &two,
                "signature matches none of 2 active secrets (fingerprints 1a2b3c4d, 5e6f7a8b)",
            ),
            (
                Rejection::SignatureMismatch,
                &present,
                &one,
                "signature does not match the active secret (fingerprint 1a2b3c4d)",
            ),
            (
                Rejection::TokenMismatch,
                &present,
                &two,
                "token matches none of 2 active secrets (fingerprints 1a2b3c4d, 5e6f7a8b)",
            ),
            (
                Rejection::NoActiveSecret,
                &present,
                &[],
                "the source has no unexpired secret: rotate one in",
            ),
        ];
        for (rejection, present, fingerprints, expected) in cases {
            assert_eq!(
                rejection_detail(&rejection, present, fingerprints),
                expected
            );
        }
    }
}
