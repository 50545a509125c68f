//! Criterion benches of the pure hot paths (SPEC §10: verification ≤ 1.2× the bare
//! HMAC-SHA256 of the body): every inbound verifier and the outbound Standard Webhooks
//! signer, on 1 KiB, 16 KiB and 256 KiB JSON bodies. Each size is one group whose first
//! member is the bare HMAC-SHA256 of the body, so the overhead ratio reads off the
//! group (`scripts/bench_ratios.py` prints it).
//!
//! Two body shapes per size: `verify/<size>` is one long padding string after the
//! fields (the cheapest body to read fields from), `verify/stripe_<size>` a Stripe event
//! as Stripe sends it (pretty-printed, a nested `data.object` with arrays, escapes and
//! non-ASCII text, `type` last), so body field extraction is not flattered.
//!
//! Verifiers are given their secrets prepared, as the server holds them in its source
//! cache (the HMAC key schedule computed once per secret, not per request); each group
//! also times `bare_hmac_sha256_prekeyed`, the bare MAC from such a schedule, so both the
//! ratio SPEC §10 names and the overhead beside the MAC itself can be read.
//!
//! Every request carries eight ordinary headers (host, user agent, content type, a
//! proxy's forwarding headers, …) besides the signed ones, as a real one does, so header
//! reading is not flattered by a map of three.
//!
//! The public-key schemes are compared with their own primitive as well:
//! `bare_ed25519_verify` (Discord) and `bare_ecdsa_p256_verify` (SendGrid) verify the same
//! timestamp + body with a key decoded beforehand. Amazon SNS carries the body as the
//! `Message` of a signed SNS message: `verify/aws_sns` times what ingress does with it
//! (`certificate_url`, then `verify_with_certificate` with the certificate already
//! fetched), `bare_rsa_sha1_verify` the RSA PKCS#1 v1.5 SHA1 verification of the same
//! canonical string with the certificate's key read beforehand. Twilio's JSON scheme
//! needs two digests, the body's SHA-256 and an HMAC-SHA1 of the URL carrying it:
//! `bare_sha256_body_hmac_sha1_url` is the two alone.
//!
//! `cargo bench --bench verify` (add `-- --measurement-time 5` for steadier figures).

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac};
use hookgate::delivery::payload;
use hookgate::verify::{self, PreparedSecret, SecretCandidate, SigningKey, VerifierConfig};
use http::{HeaderMap, HeaderName, HeaderValue};
use p256::ecdsa::signature::Verifier as _;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

const NOW: i64 = 1_750_000_000;
/// The URL the sender called (Twilio, Square and HubSpot sign it).
const URL: &str = "https://hooks.example.com/v1/ingress/src_bench";
const SIZES: [(usize, &str); 3] = [(1024, "1KiB"), (16 * 1024, "16KiB"), (256 * 1024, "256KiB")];

/// A JSON body of exactly `size` bytes carrying the fields verifiers read (`id`,
/// `type`, `event_id`, and the `webhookTimestamp` that dates Linear's), padded.
fn body(size: usize) -> Vec<u8> {
    let head = br#"{"id":"evt_1NbenchStripeId","type":"push","event_id":"Ev0BENCH","webhookTimestamp":1750000000000,"padding":""#;
    let mut body = head.to_vec();
    body.resize(size.saturating_sub(2).max(head.len()), b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// A Stripe `payment_intent.succeeded` event of exactly `size` bytes, laid out as Stripe
/// sends it: two-space indentation, `id` first and `type` last, the bulk in
/// `data.object` (line items with nested objects, arrays, escapes and non-ASCII text).
/// The size is reached with whole line items, then a `memo` string for the remainder
/// (under one line item's size).
fn stripe_body(size: usize) -> Vec<u8> {
    const HEAD: &str = r#"{
  "id": "evt_3NG8Du2eZvKYlo2C1x2Q8FbC",
  "object": "event",
  "api_version": "2023-10-16",
  "created": 1686089970,
  "webhookTimestamp": 1750000000000,
  "data": {
    "object": {
      "id": "pi_3NG8Du2eZvKYlo2C1pV6aD9R",
      "object": "payment_intent",
      "amount": 2000,
      "automatic_payment_methods": {
        "allow_redirects": "always",
        "enabled": true
      },
      "currency": "usd",
      "customer": "cus_O2CdhLwGFh2Aej",
      "description": "Order #1234 \"gift\" \u2013 caf\u00e9 cr\u00e8me \\ {not: [a bracket]}",
      "metadata": {
        "order_id": "6735",
        "note": "line one\nline two ☕ über"
      },
      "payment_method_types": [
        "card",
        "link"
      ],
      "line_items": ["#;
    const ITEM: &str = r#"
        {
          "id": "li_1NG8Du2eZvKYlo2CaB3dE4fG",
          "amount_total": 1000,
          "description": "T-shirt \"Blue\" (size M) – 100% coton",
          "price": {
            "id": "price_1NG8Du2eZvKYlo2C",
            "unit_amount": 500,
            "tiers": [1, 2.5, -3e2]
          },
          "quantity": 2
        }"#;
    const MIDDLE: &str = r#"
      ],
      "status": "succeeded",
      "memo": ""#;
    const TAIL: &str = r#""
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_8cKkQ0m0aOwS1X",
    "idempotency_key": "b1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
  },
  "type": "payment_intent.succeeded"
}
"#;
    let fixed = HEAD.len() + MIDDLE.len() + TAIL.len();
    let mut body = HEAD.as_bytes().to_vec();
    let mut items = 0;
    // `<`: room for the item and the comma before it.
    while fixed + body.len() - HEAD.len() + ITEM.len() < size {
        if items > 0 {
            body.push(b',');
        }
        body.extend_from_slice(ITEM.as_bytes());
        items += 1;
    }
    body.extend_from_slice(MIDDLE.as_bytes());
    let memo = size.saturating_sub(body.len() + TAIL.len());
    body.resize(body.len() + memo, b'm');
    body.extend_from_slice(TAIL.as_bytes());
    body
}

fn config(value: serde_json::Value) -> VerifierConfig {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bench config: {e}"))
}

/// One scheme as benched: what signs, what the source holds, the URL called.
struct Bench {
    name: &'static str,
    verifier: VerifierConfig,
    /// What `sign` takes: the secret, or a public-key scheme's private key.
    signing: Vec<u8>,
    secret: Vec<u8>,
    url: String,
}

/// The Ed25519 pair of RFC 8032 §7.1 test 1: seed, public key.
const ED25519: (&str, &str) = (
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
);
/// A P-256 pair: PKCS#8 DER and SubjectPublicKeyInfo DER, both base64.
const P256: (&str, &str) = (
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHy49TFtqeYgfLj1MW2p5iB8uPUxbanmIHy49TFtqeYihRANCAAS9fHO4iy6bTO2mICKy2ovhMZOltW7cJuffeELiTNC16wYFrae9qDrGorgNfjFAQPpH/xa4O6yFztsBRFG7fOca",
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvXxzuIsum0ztpiAistqL4TGTpbVu3Cbn33hC4kzQtesGBa2nvag6xqK4DX4xQED6R/8WuDushc7bAURRu3znGg==",
);

/// Every scheme of SPEC §3.2 and §3.4 for `body` (Twilio's JSON body travels with its
/// `bodySHA256` in the URL).
fn schemes(body: &[u8]) -> Vec<Bench> {
    let shared = |name, verifier, secret: &[u8]| Bench {
        name,
        verifier,
        signing: secret.to_vec(),
        secret: secret.to_vec(),
        url: URL.to_owned(),
    };
    let keyed = |name, verifier, (private, public): (&str, &str)| Bench {
        name,
        verifier,
        signing: private.as_bytes().to_vec(),
        secret: public.as_bytes().to_vec(),
        url: URL.to_owned(),
    };
    let body_sha = hex::encode(Sha256::digest(body));
    vec![
        shared(
            "github",
            VerifierConfig::Github,
            b"It's a Secret to Everybody",
        ),
        shared(
            "stripe",
            VerifierConfig::Stripe,
            b"whsec_test_secret_0123456789abcdef",
        ),
        shared(
            "standard_webhooks",
            VerifierConfig::StandardWebhooks,
            b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        shared(
            "shopify",
            VerifierConfig::Shopify,
            b"hush-shopify-app-secret",
        ),
        shared(
            "slack",
            VerifierConfig::Slack,
            b"8f742231b10e8888abcd99yyyzzz85a5",
        ),
        shared("gitlab", VerifierConfig::Gitlab, b"glwht-3a8c0b7e5d9f41c2"),
        shared(
            "linear",
            VerifierConfig::Linear(Default::default()),
            b"lin_wh_3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
        ),
        shared(
            "intercom",
            VerifierConfig::Intercom,
            b"9a1b6a3c-client-secret",
        ),
        shared(
            "pagerduty",
            VerifierConfig::Pagerduty,
            b"lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK",
        ),
        shared("typeform", VerifierConfig::Typeform, b"typeform-secret-1"),
        shared(
            "atlassian",
            VerifierConfig::Atlassian,
            b"It's a Secret to Everybody",
        ),
        shared(
            "paddle",
            config(json!({"type": "paddle"})),
            b"pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI",
        ),
        shared(
            "zendesk",
            config(json!({"type": "zendesk"})),
            b"dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
        ),
        shared(
            "mailgun",
            config(json!({"type": "mailgun"})),
            b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
        ),
        Bench {
            url: format!("{URL}?bodySHA256={body_sha}"),
            ..shared("twilio", VerifierConfig::Twilio, b"twilio-auth-token")
        },
        shared(
            "hubspot",
            VerifierConfig::Hubspot(Default::default()),
            b"hubspot-client-secret",
        ),
        shared("square", VerifierConfig::Square, b"square-signature-key"),
        keyed("discord", VerifierConfig::Discord, ED25519),
        keyed(
            "sendgrid",
            VerifierConfig::Sendgrid(Default::default()),
            P256,
        ),
        shared(
            "hmac_sha256",
            config(
                json!({"type": "hmac", "header": "X-Signature", "prefix": "sha256=",
                          "encoding": "hex", "algorithm": "sha256"}),
            ),
            b"generic-shared-secret",
        ),
        shared(
            "hmac_sha512",
            config(
                json!({"type": "hmac", "header": "X-Signature", "encoding": "base64",
                          "algorithm": "sha512", "signed_content": "{timestamp}.{body}",
                          "timestamp_header": "X-Timestamp"}),
            ),
            b"generic-shared-secret",
        ),
        shared(
            "bearer",
            config(json!({"type": "bearer", "header": "Authorization"})),
            b"internal-system-token-0123456789",
        ),
    ]
}

/// The signed headers among the ones every real request carries (a proxy's too), so a
/// verifier's header reading is timed on a map of realistic size.
fn header_map(pairs: Vec<(String, String)>, body_len: usize) -> HeaderMap {
    let mut map = HeaderMap::new();
    let ordinary = [
        ("host", "hooks.example.com".to_owned()),
        ("user-agent", "bench-sender/1.0".to_owned()),
        ("accept", "*/*".to_owned()),
        ("accept-encoding", "gzip".to_owned()),
        ("content-type", "application/json".to_owned()),
        ("content-length", body_len.to_string()),
        ("x-forwarded-for", "203.0.113.7".to_owned()),
        ("x-forwarded-proto", "https".to_owned()),
    ];
    let ordinary = ordinary.map(|(name, value)| (name.to_owned(), value));
    for (name, value) in ordinary.into_iter().chain(pairs) {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let value = HeaderValue::from_str(&value).unwrap_or_else(|e| panic!("{e}"));
        map.append(name, value);
    }
    map
}

fn bare_hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn bare_hmac_sha1(key: &[u8], body: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn bare_hmac_sha512(key: &[u8], body: &[u8]) -> [u8; 64] {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn ed25519_key() -> ed25519_dalek::SigningKey {
    let mut seed = [0; 32];
    hex::decode_to_slice(ED25519.0, &mut seed).unwrap_or_else(|e| panic!("{e}"));
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn p256_key() -> p256::ecdsa::SigningKey {
    use base64::Engine;
    use p256::pkcs8::DecodePrivateKey;
    let der = base64::engine::general_purpose::STANDARD
        .decode(P256.0)
        .unwrap_or_else(|e| panic!("{e}"));
    p256::ecdsa::SigningKey::from_pkcs8_der(&der).unwrap_or_else(|e| panic!("{e}"))
}

/// Makes a JSON body of exactly the given size.
type BodyOfSize = fn(usize) -> Vec<u8>;

fn verifiers(c: &mut Criterion) {
    let shapes: [(&str, BodyOfSize); 2] = [("", body), ("stripe_", stripe_body)];
    for (shape, make) in shapes {
        for (size, label) in SIZES {
            let body = make(size);
            // A malformed or mis-sized body would measure something else than it says.
            if body.len() != size || serde_json::from_slice::<serde_json::Value>(&body).is_err() {
                panic!("{shape}{label}: not a {size}-byte JSON body");
            }
            group(c, &format!("verify/{shape}{label}"), &body);
        }
    }
}

/// One group: the bare MACs first, then every verifier and the outbound signer.
fn group(c: &mut Criterion, name: &str, body: &[u8]) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(body.len() as u64));

    // The reference: what any MAC-based verifier must at least spend.
    let key = b"It's a Secret to Everybody";
    group.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| bare_hmac_sha256(black_box(key), black_box(body)))
    });
    // The reference for the sha512 variant of the generic verifier.
    group.bench_function("bare_hmac_sha512", |b| {
        b.iter(|| bare_hmac_sha512(black_box(key), black_box(body)))
    });
    // The reference for Intercom's HMAC-SHA1.
    group.bench_function("bare_hmac_sha1", |b| {
        b.iter(|| bare_hmac_sha1(black_box(key), black_box(body)))
    });
    // The reference for Twilio's JSON scheme: the body's SHA-256, then the HMAC-SHA1 of
    // the URL carrying it in hex, the two digests it cannot do without.
    let twilio_url = format!("{URL}?bodySHA256={}", hex::encode(Sha256::digest(body)));
    group.bench_function("bare_sha256_body_hmac_sha1_url", |b| {
        b.iter(|| {
            let digest = Sha256::digest(black_box(body));
            let mac = bare_hmac_sha1(black_box(key), black_box(twilio_url.as_bytes()));
            (digest, mac)
        })
    });
    // The same MAC from a key schedule made beforehand, as the verifiers start from a
    // cached source's prepared secrets: the verifiers' time above this one is
    // everything they do besides the MAC itself.
    let keyed = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("bare_hmac_sha256_prekeyed", |b| {
        b.iter(|| {
            let mut mac = black_box(&keyed).clone();
            mac.update(black_box(body));
            <[u8; 32]>::from(mac.finalize().into_bytes())
        })
    });

    // The references for the public-key schemes: the primitive alone, on the message
    // the sender signs (timestamp + body), the key decoded beforehand.
    let message = [NOW.to_string().as_bytes(), body].concat();
    let ed25519 = ed25519_key();
    let ed25519_signature = ed25519.sign(&message);
    let ed25519_public = ed25519.verifying_key();
    group.bench_function("bare_ed25519_verify", |b| {
        b.iter(|| black_box(&ed25519_public).verify_strict(black_box(&message), &ed25519_signature))
    });
    let p256 = p256_key();
    let p256_signature: p256::ecdsa::Signature = p256.sign(&message);
    let p256_public = *p256.verifying_key();
    group.bench_function("bare_ecdsa_p256_verify", |b| {
        b.iter(|| black_box(&p256_public).verify(black_box(&message), &p256_signature))
    });

    for Bench {
        name,
        verifier,
        signing,
        secret,
        url,
    } in schemes(body)
    {
        let signed = verify::sign(
            &verifier,
            &signing,
            body,
            &url,
            NOW,
            "msg_2Kbench000000000001",
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Mailgun's signature travels in the body: that body is the one it verifies.
        let signed_body =
            verify::sign_body(&verifier, &signing, body, NOW, "msg_2Kbench000000000001")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = signed_body.as_deref().unwrap_or(body);
        let headers = header_map(signed, body.len());
        // Prepared as a cached source holds its secrets (`ActiveSource`).
        let prepared = PreparedSecret::new(&verifier, &secret);
        let candidates = [SecretCandidate {
            id: "sec_1",
            value: &secret,
            prepared: Some(&prepared),
        }];
        // Every bench verifies a genuine request: a rejection would time the wrong path.
        if let Err(rejection) = verify::verify(&verifier, &candidates, &headers, body, &url, NOW) {
            panic!("{name} rejects its own signature: {rejection:?}");
        }
        group.bench_function(BenchmarkId::new("verify", name), |b| {
            b.iter(|| {
                verify::verify(
                    black_box(&verifier),
                    black_box(&candidates),
                    black_box(&headers),
                    black_box(body),
                    &url,
                    NOW,
                )
            })
        });
    }

    // The outbound signer: the per-attempt headers of one delivery, one secret, made
    // ready to sign with once as the delivery workers do per claimed batch.
    let keys = [SigningKey::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap_or_else(|e| panic!("bench secret: {e}"))];
    aws_sns(&mut group, body);

    group.bench_function("sign_outbound_delivery", |b| {
        b.iter(|| {
            payload::headers(
                black_box("evt_01JBENCH0000000000000000"),
                NOW,
                black_box(body),
                &keys,
            )
        })
    });
    group.finish();
}

/// The SNS test certificate (tests/vectors), its key, and where the messages say it is.
const SNS_KEY: &str = include_str!("../tests/vectors/aws_sns.key.pem");
const SNS_CERTIFICATE: &str = include_str!("../tests/vectors/aws_sns.cert.pem");
const SNS_CERTIFICATE_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bench.pem";
const SNS_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:bench";

/// `body` as the `Message` of an SNS notification: the bare RSA verification of its
/// canonical string, and the verifier as ingress runs it.
fn aws_sns(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    body: &[u8],
) {
    let verifier = VerifierConfig::AwsSns(Default::default());
    let template = serde_json::json!({
        "Type": "Notification",
        "TopicArn": SNS_TOPIC,
        "Message": String::from_utf8_lossy(body),
        "SigningCertURL": SNS_CERTIFICATE_URL,
    });
    let template = serde_json::to_vec(&template).unwrap_or_else(|e| panic!("{e}"));
    let message = verify::sign_body(&verifier, SNS_KEY.as_bytes(), &template, NOW, "msg-bench")
        .unwrap_or_else(|e| panic!("aws_sns: {e}"))
        .unwrap_or_else(|| panic!("aws_sns signs no body"));
    let parsed: serde_json::Value =
        serde_json::from_slice(&message).unwrap_or_else(|e| panic!("{e}"));
    let member = |name: &str| parsed[name].as_str().unwrap_or_default().to_owned();
    let canonical: String = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
        .iter()
        .map(|name| format!("{name}\n{}\n", member(name)))
        .collect();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(member("Signature"))
        .unwrap_or_else(|e| panic!("{e}"));
    let key = {
        use rsa::pkcs8::DecodePublicKey;
        use x509_cert::der::{DecodePem, Encode};
        let certificate = x509_cert::Certificate::from_pem(SNS_CERTIFICATE.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let spki = certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap_or_else(|e| panic!("{e}"));
        rsa::RsaPublicKey::from_public_key_der(&spki).unwrap_or_else(|e| panic!("{e}"))
    };
    group.bench_function("bare_rsa_sha1_verify", |b| {
        b.iter(|| {
            use sha1::Digest as _;
            let digest = sha1::Sha1::digest(black_box(canonical.as_bytes()));
            black_box(&key).verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &digest, &signature)
        })
    });
    let certificate =
        verify::SigningCertificate::from_pem(SNS_CERTIFICATE_URL, SNS_CERTIFICATE.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    let origins = verify::CertificateOrigins::default();
    let candidates = [SecretCandidate {
        id: "sec_1",
        value: SNS_TOPIC.as_bytes(),
        prepared: None,
    }];
    let headers = header_map(Vec::new(), message.len());
    let ingress = |message: &[u8]| {
        let url = verify::certificate_url(&verifier, &candidates, message, &origins, NOW)?;
        let fetched = url.is_some().then_some(&certificate);
        verify::verify_with_certificate(
            &verifier,
            &candidates,
            &headers,
            message,
            URL,
            fetched,
            NOW,
        )
        .map(|verified| verified.secret_id().len())
    };
    if let Err(rejection) = ingress(&message) {
        panic!("aws_sns rejects its own signature: {rejection:?}");
    }
    group.bench_function(BenchmarkId::new("verify", "aws_sns"), |b| {
        b.iter(|| ingress(black_box(&message)))
    });
}

criterion_group! {
    name = benches;
    // Short by default (132 benchmarks); flags such as --measurement-time override it.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = verifiers
}
criterion_main!(benches);
