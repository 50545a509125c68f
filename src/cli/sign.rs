//! `hookgate sign`: the headers a real sender would send for a body, or a complete curl
//! command, so an SRE can check a source (and a rotation) end to end (SPEC §9).
//!
//! The output is built by pure functions ([`sender_headers`], [`headers_text`],
//! [`curl_command`]); only [`run`] reads the clock, stdin and files.

use super::client::{self, DEFAULT_URL};
use super::verifier::VerifierArgs;
use crate::verify::{self, EventName, SignError, VerifierConfig};
use anyhow::Context;
use clap::Args;
use http::HeaderValue;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SignArgs {
    #[command(flatten)]
    verifier: VerifierArgs,
    /// The source's secret, exactly as `sources create` or `rotate-secret` printed it.
    /// For discord and sendgrid, whose secret is the sender's public key, the private
    /// key instead: discord an Ed25519 seed in hex (64 digits), sendgrid a P-256 key as
    /// base64 PKCS#8 DER (the PEM body without its lines). For aws_sns the RSA private key
    /// PEM of the certificate at the message's SigningCertURL: the body is then the message
    /// to sign, a JSON object with TopicArn, Message and SigningCertURL (a confirmation
    /// also SubscribeURL and Token; Type defaults to Notification, SignatureVersion to
    /// "1"), and the signed message is printed after the headers.
    #[arg(long, env = "HOOKGATE_SIGN_SECRET", hide_env_values = true)]
    secret: String,
    /// File holding the request body; stdin when absent. Mailgun carries its signature
    /// in the body: the body with it is printed after the headers (and a blank line),
    /// or posted by --curl.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// Delivery / message id for schemes that send one (default: a new `msg_…` id).
    #[arg(long, value_name = "ID")]
    msg_id: Option<String>,
    /// Signing time in Unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    timestamp: Option<i64>,
    /// Event name for the sender's event header: X-GitHub-Event (default push),
    /// X-Shopify-Topic (default orders/create), X-Gitlab-Event (default Push Hook),
    /// atlassian's X-Event-Key (default repo:push), or hmac/bearer's `event_header`.
    #[arg(long, value_name = "NAME")]
    event: Option<String>,
    /// Print a curl command that posts the body with these headers.
    #[arg(long)]
    curl: bool,
    /// The source to post to: the curl command posts to its ingress URL,
    /// `<URL>/v1/ingress/<SOURCE_ID>` under --url, which is also the URL signed for
    /// twilio, square and hubspot.
    #[arg(long, value_name = "SOURCE_ID")]
    source: Option<String>,
    /// Where the curl command posts instead, e.g. a proxy in front of hookgate.
    #[arg(long, value_name = "URL", requires = "curl", conflicts_with = "source")]
    target_url: Option<String>,
    /// The URL the sender calls, signed by twilio, square and hubspot: the source's
    /// `ingress_url` with any query (twilio JSON bodies: `?bodySHA256=<hex>`). Default:
    /// --target-url, else the ingress URL of --source.
    #[arg(long, value_name = "URL")]
    signed_url: Option<String>,
    /// Base URL of hookgate's API, used with --source.
    #[arg(long, env = "HOOKGATE_URL", default_value = DEFAULT_URL, value_name = "URL")]
    url: String,
    /// Content-Type of the curl request.
    #[arg(long, default_value = "application/json", value_name = "TYPE")]
    content_type: String,
}

/// Why no output could be built.
#[derive(Debug, thiserror::Error)]
pub enum SignOutputError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("--event does not apply to {0}: its senders put the event name in the body")]
    EventInBody(&'static str),
    #[error("--event has no header to go in for {0}: its senders name no event (hmac and bearer: set \"event_header\" in --verifier-json)")]
    NoEventHeader(&'static str),
    #[error("--event is not a valid header value")]
    InvalidEvent,
    #[error("--curl needs a text body without NUL bytes on the command line; pass a binary body with --body FILE")]
    BinaryBody,
}

/// Everything one signed request depends on, clock included.
pub struct SignInput<'a> {
    pub verifier: &'a VerifierConfig,
    pub secret: &'a [u8],
    pub body: &'a [u8],
    pub now_unix_s: i64,
    pub msg_id: &'a str,
    /// The URL the sender calls (empty when not known: schemes that sign it refuse).
    pub url: &'a str,
    /// `--event`; `None` = the sender's usual default where there is one.
    pub event: Option<&'a str>,
}

/// The signature headers of `verify::sign` plus the unsigned event header the sender
/// would send along.
pub fn sender_headers(input: &SignInput<'_>) -> Result<Vec<(String, String)>, SignOutputError> {
    let mut headers = verify::sign(
        input.verifier,
        input.secret,
        input.body,
        input.url,
        input.now_unix_s,
        input.msg_id,
    )?;
    let kind = input.verifier.kind().as_str();
    let (event_header, default) = match input.verifier.event_name() {
        EventName::Header { name, example } => (Some(name), example),
        EventName::Unnamed => (None, None),
        EventName::Body => {
            if input.event.is_some() {
                return Err(SignOutputError::EventInBody(kind));
            }
            (None, None)
        }
    };
    match (event_header, input.event.or(default)) {
        (Some(name), Some(value)) => {
            let valid = !value.is_empty()
                && value.trim() == value
                && HeaderValue::from_str(value).is_ok_and(|v| v.to_str().is_ok());
            if !valid {
                return Err(SignOutputError::InvalidEvent);
            }
            headers.push((name.to_owned(), value.to_owned()));
        }
        (None, Some(_)) => return Err(SignOutputError::NoEventHeader(kind)),
        (_, None) => {}
    }
    Ok(headers)
}

/// One `Name: value` line per header.
pub fn headers_text(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect()
}

/// The headers, then, for a sender whose signature travels in the body, a blank line
/// and that signed body (`verify::sign_body` returns it as JSON text).
pub fn signed_text(headers: &[(String, String)], signed_body: Option<&[u8]>) -> String {
    let mut text = headers_text(headers);
    if let Some(body) = signed_body {
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(body));
        text.push('\n');
    }
    text
}

/// How the curl command carries the body.
pub enum CurlBody<'a> {
    /// Inline on the command line: self-contained, for text bodies.
    Text(&'a str),
    /// `@FILE`: for bodies a command line cannot hold.
    File(&'a Path),
}

impl<'a> CurlBody<'a> {
    /// Inline when the body is text without NUL, else the file it came from, if any.
    pub fn choose(body: &'a [u8], file: Option<&'a Path>) -> Result<Self, SignOutputError> {
        match (std::str::from_utf8(body), file) {
            (Ok(text), _) if !text.contains('\0') => Ok(Self::Text(text)),
            (_, Some(path)) => Ok(Self::File(path)),
            (_, None) => Err(SignOutputError::BinaryBody),
        }
    }
}

/// A POSIX shell command that posts the body to `url` with exactly these headers and
/// prints the response status line, headers and body.
pub fn curl_command(
    url: &str,
    content_type: &str,
    headers: &[(String, String)],
    body: &CurlBody<'_>,
) -> String {
    let mut lines = vec![format!("curl -sS -i -X POST {}", shell_quote(url))];
    let all = std::iter::once(("Content-Type", content_type))
        .chain(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    for (name, value) in all {
        lines.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    lines.push(match body {
        // --data-raw: a leading '@' is data, not a file name.
        CurlBody::Text(text) => format!("--data-raw {}", shell_quote(text)),
        CurlBody::File(path) => format!(
            "--data-binary {}",
            shell_quote(&format!("@{}", path.display()))
        ),
    });
    let mut command = lines.join(" \\\n  ");
    command.push('\n');
    command
}

/// `text` as one word for a POSIX shell: single-quoted, each embedded `'` written as
/// `'\''` (close, escaped quote, reopen). Nothing is special inside single quotes.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The CLI glue: reads the body, the clock and the environment, prints the output.
pub fn run(args: SignArgs) -> anyhow::Result<()> {
    let config = args.verifier.to_config()?;
    let body = read_body(args.body.as_deref())?;
    let now_unix_s = match args.timestamp {
        Some(t) => t,
        None => chrono::Utc::now().timestamp(),
    };
    let msg_id = args
        .msg_id
        .clone()
        .unwrap_or_else(|| crate::id::new_id("msg"));
    let signed_url = signed_url(&args)?;
    let headers = sender_headers(&SignInput {
        verifier: &config,
        secret: args.secret.as_bytes(),
        body: &body,
        now_unix_s,
        msg_id: &msg_id,
        url: &signed_url,
        event: args.event.as_deref(),
    })
    .with_context(|| format!("cannot sign for {}", args.verifier.verifier.as_str()))?;
    let signed_body =
        verify::sign_body(&config, args.secret.as_bytes(), &body, now_unix_s, &msg_id)
            .with_context(|| format!("cannot sign for {}", args.verifier.verifier.as_str()))?;
    if !args.curl {
        print!("{}", signed_text(&headers, signed_body.as_deref()));
        return Ok(());
    }
    let url = target(&args)?;
    let curl_body = match &signed_body {
        Some(signed) => CurlBody::choose(signed, None)?,
        None => CurlBody::choose(&body, args.body.as_deref())?,
    };
    print!(
        "{}",
        curl_command(&url, &args.content_type, &headers, &curl_body)
    );
    Ok(())
}

/// Where the curl command posts: `--target-url`, else the ingress URL of `--source`.
fn target(args: &SignArgs) -> anyhow::Result<String> {
    match (&args.target_url, &args.source) {
        (Some(url), _) => Ok(url.clone()),
        (None, Some(source)) => ingress_url(&args.url, source),
        (None, None) => anyhow::bail!("--curl needs --source SOURCE_ID or --target-url URL"),
    }
}

/// The URL the sender calls: `--signed-url`, else where the request is posted, else
/// nothing.
fn signed_url(args: &SignArgs) -> anyhow::Result<String> {
    match (&args.signed_url, &args.target_url, &args.source) {
        (Some(url), _, _) | (None, Some(url), _) => Ok(url.clone()),
        (None, None, Some(source)) => ingress_url(&args.url, source),
        (None, None, None) => Ok(String::new()),
    }
}

fn ingress_url(base: &str, source: &str) -> anyhow::Result<String> {
    let base = reqwest::Url::parse(base)
        .with_context(|| format!("invalid API URL {base:?} (--url / HOOKGATE_URL)"))?;
    Ok(client::join(&base, &["v1", "ingress", source])?.to_string())
}

fn read_body(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read --body {}", path.display()))
        }
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("reading the body from stdin (end with Ctrl-D; or pass --body FILE)");
            }
            let mut body = Vec::new();
            stdin
                .read_to_end(&mut body)
                .context("cannot read the body from stdin")?;
            Ok(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{BearerConfig, HmacConfig, MacAlgorithm, MacEncoding};
    use std::process::Command;

    /// The headers `sign` printed, as a request carries them.
    fn header_map(headers: &[(String, String)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    /// `secret` as the one secret a source holds.
    fn candidate(secret: &str) -> verify::SecretCandidate<'_> {
        verify::SecretCandidate {
            id: "sec_1",
            value: secret.as_bytes(),
            prepared: None,
        }
    }

    fn headers(verifier: &VerifierConfig, secret: &str, body: &str) -> Vec<(String, String)> {
        sender_headers(&SignInput {
            verifier,
            secret: secret.as_bytes(),
            body: body.as_bytes(),
            now_unix_s: 1_700_000_000,
            msg_id: "msg_1",
            url: "https://gw.example/v1/ingress/src_1",
            event: None,
        })
        .unwrap()
    }

    fn value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn github_documented_example_signs_to_the_published_signature_with_push_event() {
        // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
        let out = headers(
            &VerifierConfig::Github,
            "It's a Secret to Everybody",
            "Hello, World!",
        );
        let text = headers_text(&out);
        assert!(
            text.contains("X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n"),
            "{text}"
        );
        assert!(text.contains("X-GitHub-Event: push\n"), "{text}");
        assert!(text.contains("X-GitHub-Delivery: msg_1\n"), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn given_event_replaces_the_default_event_header() {
        let out = sender_headers(&SignInput {
            verifier: &VerifierConfig::Github,
            secret: b"s",
            body: b"{}",
            now_unix_s: 0,
            msg_id: "d",
            url: "",
            event: Some("pull_request"),
        })
        .unwrap();
        assert_eq!(value(&out, "X-GitHub-Event"), Some("pull_request"));
    }

    #[test]
    fn shopify_gets_its_topic_header() {
        let out = headers(&VerifierConfig::Shopify, "s", "{}");
        assert_eq!(value(&out, "X-Shopify-Topic"), Some("orders/create"));
        assert!(value(&out, "X-Shopify-Hmac-Sha256").is_some());
    }

    #[test]
    fn every_signed_scheme_verifies_with_the_same_secret_at_the_same_time() {
        let hmac = VerifierConfig::Hmac(HmacConfig {
            header: "X-Signature".into(),
            prefix: Some("sha512=".into()),
            encoding: MacEncoding::Base64,
            algorithm: MacAlgorithm::Sha512,
            signed_content: "{timestamp}.{body}".into(),
            timestamp_header: Some("X-Timestamp".into()),
            tolerance_s: 300,
            dedup_header: Some("X-Delivery".into()),
            event_header: Some("X-Event".into()),
        });
        let cases = [
            (VerifierConfig::Github, "gh-secret"),
            (VerifierConfig::Stripe, "whsec_abc"),
            (
                VerifierConfig::StandardWebhooks,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
            (VerifierConfig::Shopify, "shp"),
            (VerifierConfig::Slack, "slack"),
            (hmac, "hmac"),
            (VerifierConfig::Bearer(BearerConfig::default()), "tok"),
        ];
        let body = r#"{"id":"evt_1","type":"x","event":{"type":"m"}}"#;
        for (config, secret) in cases {
            let out = headers(&config, secret, body);
            let map = header_map(&out);
            let candidate = candidate(secret);
            let verified = verify::verify(
                &config,
                &[candidate],
                &map,
                body.as_bytes(),
                "https://gw.example/v1/ingress/src_1",
                1_700_000_000,
            );
            assert!(verified.is_ok(), "{config:?}: {verified:?}");
        }
    }

    /// `hookgate sign --verifier <type>` for every type of the table: its headers (and,
    /// for Mailgun, its body) verify at the same time with the same secret.
    #[test]
    fn every_verifier_type_signs_what_it_verifies() {
        use rand::SeedableRng;
        let any_body = br#"{"id":"evt_1","type":"x","webhookTimestamp":1700000000000}"#;
        let mut random = rand::rngs::StdRng::seed_from_u64(1);
        let url = "https://gw.example/v1/ingress/src_1";
        for config in VerifierConfig::examples() {
            // Each in its sender's format (a `whsec_…` one for Standard Webhooks); a
            // public-key scheme signs with its test pair's private key.
            let kind = config.kind();
            let (signing, secret) = match (kind.new_secret(&mut random), kind.test_key_pair()) {
                (Some(secret), _) => (secret.clone(), secret),
                (None, Some((private, public))) => (private.to_owned(), public.to_owned()),
                (None, None) => panic!("{kind:?}: no secret to sign with"),
            };
            // An SNS message is a body of its own shape.
            let body = kind.test_body().unwrap_or(any_body);
            let input = SignInput {
                verifier: &config,
                secret: signing.as_bytes(),
                body,
                now_unix_s: 1_700_000_000,
                msg_id: "msg_1",
                url,
                event: None,
            };
            let out = sender_headers(&input).unwrap();
            let signed =
                verify::sign_body(&config, signing.as_bytes(), body, 1_700_000_000, "msg_1");
            let signed = signed.unwrap();
            let text = signed_text(&out, signed.as_deref());
            let after_headers = text.strip_prefix(&headers_text(&out)).unwrap();
            match &signed {
                Some(json) => assert_eq!(
                    after_headers,
                    format!("\n{}\n", String::from_utf8_lossy(json))
                ),
                None => assert_eq!(after_headers, ""),
            }
            let map = header_map(&out);
            let candidate = candidate(&secret);
            let sent = signed.as_deref().unwrap_or(body);
            let certificate = kind.test_certificate();
            let verified = verify::verify_with_certificate(
                &config,
                &[candidate],
                &map,
                sent,
                url,
                certificate.as_ref(),
                1_700_000_000,
            );
            assert!(verified.is_ok(), "{config:?}: {verified:?}");
        }
    }

    #[test]
    fn url_schemes_sign_the_given_url_and_key_schemes_sign_with_the_private_key() {
        let url = "https://gw.example/v1/ingress/src_1";
        let body = br#"{"event_id":"e1","type":"t"}"#;
        let schemes = [
            VerifierConfig::Twilio,
            VerifierConfig::Hubspot(Default::default()),
            VerifierConfig::Square,
            VerifierConfig::Discord,
            VerifierConfig::Sendgrid(Default::default()),
        ];
        for config in schemes {
            let (signing, secret) = config
                .kind()
                .test_key_pair()
                .unwrap_or(("s3cret", "s3cret"));
            let input = SignInput {
                verifier: &config,
                secret: signing.as_bytes(),
                body,
                now_unix_s: 1_700_000_000,
                msg_id: "msg_1",
                url,
                event: None,
            };
            let out = sender_headers(&input).unwrap();
            let map = header_map(&out);
            let candidate = candidate(secret);
            let verified = verify::verify(&config, &[candidate], &map, body, url, 1_700_000_000);
            assert!(verified.is_ok(), "{config:?}: {verified:?}");
            // A URL scheme cannot sign without the URL; the others ignore it.
            let signs_url = matches!(
                config,
                VerifierConfig::Twilio | VerifierConfig::Hubspot(_) | VerifierConfig::Square
            );
            let without = sender_headers(&SignInput { url: "", ..input });
            assert_eq!(
                matches!(without, Err(SignOutputError::Sign(SignError::NoUrl))),
                signs_url,
                "{config:?}"
            );
        }
    }

    #[test]
    fn event_is_refused_where_the_sender_puts_it_in_the_body_or_has_no_header_for_it() {
        let input = |verifier| SignInput {
            verifier,
            secret: b"whsec_abc",
            body: b"{}",
            now_unix_s: 0,
            msg_id: "m",
            url: "",
            event: Some("x"),
        };
        assert!(matches!(
            sender_headers(&input(&VerifierConfig::Stripe)),
            Err(SignOutputError::EventInBody("stripe"))
        ));
        let without_header = VerifierConfig::Bearer(BearerConfig::default());
        assert!(matches!(
            sender_headers(&input(&without_header)),
            Err(SignOutputError::NoEventHeader("bearer"))
        ));
        let with_header = VerifierConfig::Bearer(BearerConfig {
            event_header: Some("X-Event".into()),
            ..BearerConfig::default()
        });
        let out = sender_headers(&input(&with_header)).unwrap();
        assert_eq!(value(&out, "X-Event"), Some("x"));
        let mut bad = input(&VerifierConfig::Github);
        bad.event = Some("push\r\nX-Injected: 1");
        assert!(matches!(
            sender_headers(&bad),
            Err(SignOutputError::InvalidEvent)
        ));
    }

    fn parsed(args: &[&str]) -> Result<SignArgs, clap::Error> {
        use clap::Parser;
        let argv = ["hookgate", "sign", "--verifier", "github", "--secret", "s"];
        let cli = crate::cli::Cli::try_parse_from(argv.iter().chain(args))?;
        match cli.command {
            crate::cli::Command::Operator(crate::cli::Operator::Sign(sign)) => Ok(sign),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn url_is_the_api_the_source_is_posted_under_and_target_url_overrides_it() {
        let under_api = parsed(&[
            "--curl",
            "--url",
            "https://gw.example/",
            "--source",
            "src_1",
        ]);
        assert_eq!(
            target(&under_api.unwrap()).unwrap(),
            "https://gw.example/v1/ingress/src_1"
        );
        let elsewhere = parsed(&["--curl", "--target-url", "http://proxy:9000/in"]);
        assert_eq!(target(&elsewhere.unwrap()).unwrap(), "http://proxy:9000/in");
        let neither = parsed(&["--curl", "--url", "https://gw.example"]).unwrap();
        let error = target(&neither).unwrap_err().to_string();
        assert!(
            error.contains("--source") && error.contains("--target-url"),
            "{error}"
        );
        assert!(parsed(&["--curl", "--target-url", "http://x", "--source", "s"]).is_err());
        assert!(
            parsed(&["--target-url", "http://x"]).is_err(),
            "needs --curl"
        );
    }

    #[test]
    fn signed_url_is_the_one_given_else_where_the_request_goes() {
        let url = |args: &[&str]| signed_url(&parsed(args).unwrap()).unwrap();
        assert_eq!(url(&[]), "");
        assert_eq!(
            url(&["--url", "https://gw.example", "--source", "src_1"]),
            "https://gw.example/v1/ingress/src_1"
        );
        assert_eq!(
            url(&["--curl", "--target-url", "http://proxy:9000/in"]),
            "http://proxy:9000/in"
        );
        assert_eq!(
            url(&[
                "--source",
                "src_1",
                "--signed-url",
                "https://public.example/x?a=1"
            ]),
            "https://public.example/x?a=1"
        );
    }

    #[test]
    fn shell_quote_wraps_in_single_quotes_and_escapes_embedded_ones() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("It's"), r"'It'\''s'");
        assert_eq!(shell_quote("''"), r"''\'''\'''");
    }

    #[test]
    fn shell_quoted_text_reaches_the_program_unchanged() {
        let nasty = "It's $HOME `id` $(id) \"q\" \\ ; | & * ?\n\ttab '' end'";
        let script = format!("printf %s {}", shell_quote(nasty));
        let output = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8(output.stdout).unwrap(), nasty);
    }

    #[test]
    fn curl_command_quotes_every_word_and_carries_body_inline() {
        let headers = vec![("Authorization".to_owned(), "Bearer it's".to_owned())];
        let command = curl_command(
            "http://h/v1/ingress/src_1",
            "application/json",
            &headers,
            &CurlBody::Text(r#"{"msg":"it's"}"#),
        );
        assert_eq!(
            command,
            "curl -sS -i -X POST 'http://h/v1/ingress/src_1' \\\n  \
             -H 'Content-Type: application/json' \\\n  \
             -H 'Authorization: Bearer it'\\''s' \\\n  \
             --data-raw '{\"msg\":\"it'\\''s\"}'\n"
        );
    }

    #[test]
    fn binary_bodies_go_by_file_or_are_refused() {
        let path = Path::new("/tmp/it's.bin");
        assert!(matches!(
            CurlBody::choose(b"text", Some(path)),
            Ok(CurlBody::Text("text"))
        ));
        assert!(matches!(
            CurlBody::choose(b"a\0b", Some(path)),
            Ok(CurlBody::File(_))
        ));
        assert!(matches!(
            CurlBody::choose(&[0xff, 0xfe], None),
            Err(SignOutputError::BinaryBody)
        ));
        let command = curl_command(
            "http://h",
            "application/octet-stream",
            &[],
            &CurlBody::File(path),
        );
        assert!(
            command.ends_with("--data-binary '@/tmp/it'\\''s.bin'\n"),
            "{command}"
        );
    }
}
