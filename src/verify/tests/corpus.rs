//! Replays every seed in fuzz/corpus/<target>/ through the same `fuzz_logic` function the
//! fuzz target calls, on stable, so the targets cannot rot unnoticed (STYLE "Fuzz").

use std::fs;
use std::path::Path;

use crate::verify::fuzz_logic;

/// A fuzz target's body.
type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("stripe_header", fuzz_logic::stripe_header),
    (
        "standard_webhooks_header",
        fuzz_logic::standard_webhooks_header,
    ),
    ("slack", fuzz_logic::slack),
    ("twilio_signed_text", fuzz_logic::twilio_signed_text),
    ("github_signature", fuzz_logic::github_signature),
    ("hmac_header", fuzz_logic::hmac_header),
    ("paddle_header", fuzz_logic::paddle_header),
    ("pagerduty_header", fuzz_logic::pagerduty_header),
    ("verify_any", fuzz_logic::verify_any),
    ("body_fields", fuzz_logic::body_fields),
    ("aws_sns_message", fuzz_logic::aws_sns_message),
    ("edge_input", crate::http::fuzz_logic::edge_input),
    ("console_session", crate::http::fuzz_logic::console_session),
];

#[test]
fn replays_every_fuzz_seed_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let mut dirs: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    known.sort_unstable();
    assert_eq!(
        dirs, known,
        "every target needs a seed folder, and every folder a target"
    );
    for (name, run) in TARGETS {
        let seeds: Vec<_> = fs::read_dir(root.join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!seeds.is_empty(), "{name} has no seeds");
        for seed in seeds {
            run(&fs::read(&seed).unwrap());
        }
    }
}
