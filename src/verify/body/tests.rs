//! The body scanner against a full JSON parse (the oracle), on tricky and random
//! bodies.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::verify::fuzz_logic::{body_fields_agree, json_members, serde_fields};

/// The previous implementation's result: every field read as a `serde_json::Value`
/// by a `#[derive(Deserialize)]` struct (the oracle).
fn reference(body: &[u8]) -> [Option<String>; FIELD_COUNT] {
    serde_fields(body)
}

fn owned(f: [Option<Cow<'_, str>>; FIELD_COUNT]) -> [Option<String>; FIELD_COUNT] {
    f.map(|f| f.map(Cow::into_owned))
}

/// The first five fields (`id`, `type`, `event_id`, `event.type`, `challenge`) as
/// given, the others `None`.
fn first_five(five: [Option<String>; 5]) -> [Option<String>; FIELD_COUNT] {
    let mut all: [Option<String>; FIELD_COUNT] = Default::default();
    for (slot, value) in all.iter_mut().zip(five) {
        *slot = value;
    }
    all
}

#[test]
fn every_field_bit_names_its_table_entry_and_every_key_is_found_by_name() {
    let named = [
        (Wanted::ID, "id", None),
        (Wanted::KIND, "type", None),
        (Wanted::EVENT_ID, "event_id", None),
        (Wanted::EVENT_TYPE, "event", Some("type")),
        (Wanted::CHALLENGE, "challenge", None),
        (Wanted::EVENT_TYPE_MEMBER, "event_type", None),
        (Wanted::TOPIC, "topic", None),
        (Wanted::WEBHOOK_EVENT, "webhookEvent", None),
        (Wanted::WEBHOOK_TIMESTAMP, "webhookTimestamp", None),
        (Wanted::EVENT_OBJECT_ID, "event", Some("id")),
        (Wanted::EVENT_OBJECT_EVENT_TYPE, "event", Some("event_type")),
        (Wanted::SIGNATURE_TIMESTAMP, "signature", Some("timestamp")),
        (Wanted::SIGNATURE_TOKEN, "signature", Some("token")),
        (Wanted::SIGNATURE_SIGNATURE, "signature", Some("signature")),
        (Wanted::EVENT_DATA_ID, "event-data", Some("id")),
        (Wanted::EVENT_DATA_EVENT, "event-data", Some("event")),
    ];
    assert_eq!(named.len(), FIELD_COUNT);
    for (bit, (wanted, outer, inner)) in named.into_iter().enumerate() {
        assert_eq!(wanted, Wanted(1 << bit));
        assert_eq!((FIELDS[bit].outer, FIELDS[bit].inner), (outer, inner));
        let key = Key::named(outer.as_bytes()).unwrap();
        assert_eq!(OUTER[key.0], outer);
        assert!(key.fields().has(wanted));
        assert_eq!(key.is_object(), inner.is_some());
    }
    for (at, outer) in OUTER.iter().enumerate() {
        assert_eq!(Key::named(outer.as_bytes()), Some(Key(at)));
    }
}

#[test]
fn body_fields_match_a_full_value_parse_on_tricky_bodies() {
    let bodies: &[&[u8]] = &[
        br#"{"id":"evt_1","type":"push","event_id":"Ev1","challenge":"c"}"#,
        br#" {"id":"evt_\u0031","type":"a\"b"}"#,
        br#"{"id":1,"type":true,"event_id":null,"challenge":[1,{"a":"b"}]}"#,
        br#"{"x":1,"x":2,"id":"kept"}"#,
        br#"{"other":"\ud800","type":"t"}"#,
        br#"{"other":1e999,"type":"t"}"#,
        br#"{"event":{"type":"app_mention","type":"later"},"type":"event_callback"}"#,
        br#"{"event":{"type":1},"type":"event_callback"}"#,
        br#"{"event":"text","type":"t"}"#,
        br#"{"type":"t"}   "#,
        br#"[{"type":"t"}]"#,
        b"\x0c{\"type\":\"t\"}",
        b"{\"type\":\"caf\xc3\xa9\"}",
        b"{\"type\":\"bad\xff\"}",
        b"{\"other\":\"bad\xff\",\"type\":\"t\"}",
        b"payload=%7B%22type%22%3A%22x%22%7D",
        br#"{"event":{"id":"01DEN","event_type":"incident.triggered","type":"x","id":"02"}}"#,
        br#"{"signature":{"timestamp":"1529006854","token":"a8ce","signature":"d2"},"event-data":{"event":"delivered","id":"CPg"}}"#,
        br#"{"action":"create","type":"Issue","data":{},"webhookTimestamp":1700000000000}"#,
        br#"{"webhookTimestamp":1.7e12,"action":1}"#,
        br#"{"webhookTimestamp":"1700000000000","event_type":"form_response"}"#,
        br#"{"x":[],"webhookTimestamp":18446744073709551616,"topic":"t"}"#,
        br#"{"x":[],"webhookTimestamp":18446744073709551615,"webhookEvent":"jira:issue_created"}"#,
        br#"{"signature":{"sign\u0061ture":"s","token":["t"]},"event-data":[]}"#,
        b"",
    ];
    for body in bodies {
        assert_eq!(
            owned(every_field(body, Wanted::ALL)),
            reference(body),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Bodies `serde_json` refuses, where the scan keeps what it read instead of
/// returning nothing (module documentation, "Results"): the body is authentic, so
/// what it plainly says is kept.
#[test]
fn body_fields_of_bodies_serde_refuses_follow_the_documented_choices() {
    let t = || Some("t".to_owned());
    let cases: &[(&[u8], [Option<String>; 5])] = &[
        // Duplicate wanted keys: the first one the scan decides (the ends are read a
        // member from each in turn, the front first, then the middle from the front).
        (
            br#"{"id":"a","id":"b"}"#,
            [Some("a".into()), None, None, None, None],
        ),
        (
            br#"{"x":[],"id":"a","id":"b"}"#,
            [Some("b".into()), None, None, None, None],
        ),
        (
            br#"{"x":[],"id":"a","id":"b","y":[]}"#,
            [Some("a".into()), None, None, None, None],
        ),
        (
            br#"{"x":1,"id":"a","id":"b"}"#,
            [Some("b".into()), None, None, None, None],
        ),
        (
            br#"{"id":"a","x":1,"id":"b"}"#,
            [Some("a".into()), None, None, None, None],
        ),
        (
            br#"{"event":{"type":"x"},"event":{}}"#,
            [None, None, None, Some("x".into()), None],
        ),
        // Invalid values inside a wanted field's container or number: only that
        // field is `None` (it is not a string anyway); the rest is read.
        (
            br#"{"id":{"nested":"\ud800"},"type":"t"}"#,
            [None, t(), None, None, None],
        ),
        (
            br#"{"id":["\ud800"],"type":"t"}"#,
            [None, t(), None, None, None],
        ),
        (br#"{"id":1e999,"type":"t"}"#, [None, t(), None, None, None]),
        (
            b"{\"id\":{\"k\":\"bad\xff\"},\"type\":\"t\"}",
            [None, t(), None, None, None],
        ),
        // A wanted string serde_json would refuse: that field only.
        (
            br#"{"id":"\ud800","type":"t"}"#,
            [None, t(), None, None, None],
        ),
        (
            b"{\"id\":\"a\nb\",\"type\":\"t\"}",
            [None, t(), None, None, None],
        ),
        // Trailing bytes after the object are not read; a truncated body keeps its
        // complete members.
        (br#"{"type":"t"} trailing"#, [None, t(), None, None, None]),
        (br#"{"type":"t""#, [None, t(), None, None, None]),
        (br#"{"type":"t","id":"#, [None, t(), None, None, None]),
        (br#"{"type":"t" "id":"x"}"#, [None, t(), None, None, None]),
    ];
    for (body, expected) in cases {
        let expected = first_five(expected.clone());
        assert_ne!(reference(body), expected, "serde_json accepts this body");
        assert_eq!(
            owned(every_field(body, Wanted::ALL)),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn escaped_keys_name_fields_as_serde_decodes_them() {
    let body = br#"{"\u0069d":"a","typ\u0065":"b","data":{},"ev\u0065nt":{"\u0074ype":"c"}}"#;
    assert_eq!(
        owned(every_field(body, Wanted::ALL)),
        first_five([
            Some("a".into()),
            Some("b".into()),
            None,
            Some("c".into()),
            None
        ])
    );
    assert_eq!(owned(every_field(body, Wanted::ALL)), reference(body));
}

#[test]
fn only_keys_spelled_nowhere_plainly_or_escaped_are_ruled_out_before_the_scan() {
    let slack = Wanted::EVENT_ID.and(Wanted::EVENT_TYPE);
    let stripe_like = br#"{"id":"evt_1","data":{"note":"caf\u00e9 \u2013"},"x":[]}"#;
    assert_eq!(cannot_hold(stripe_like, slack).0, slack);
    assert_eq!(cannot_hold(stripe_like, Wanted::ID), (Wanted(0), 1));
    // Nested still counts as "may hold": the scan decides.
    let nested = br#"{"data":{"event_id":"x"},"s":{"event" :1}}"#;
    assert_eq!(cannot_hold(nested, slack).0, Wanted(0));
    // The name as a value is not a key.
    let value = br#"{"object":"event","s":["event_id"]}"#;
    assert_eq!(cannot_hold(value, slack).0, slack);
    // Keys of the `event` family, searched together, are told apart.
    let typeform = Wanted::EVENT_ID.and(Wanted::EVENT_TYPE_MEMBER);
    let one_of_two = br#"{"event_type" : "form_response","event":{},"event-data":1}"#;
    // The first use found is the first key's opening quote.
    assert_eq!(cannot_hold(one_of_two, typeform), (Wanted::EVENT_ID, 1));
    assert_eq!(cannot_hold(one_of_two, slack).0, Wanted::EVENT_ID);
    let family: Vec<&str> = FAMILY_KEYS
        .iter()
        .filter_map(|key| OUTER.get(key.0).copied())
        .collect();
    let named: Vec<&str> = OUTER
        .iter()
        .copied()
        .filter(|name| name.starts_with("event"))
        .collect();
    assert_eq!(family, named);
    // Any escape of printable ASCII may spell a key, wherever it is.
    let escaped = br#"{"ev\u0065nt_id":"Ev1","data":{}}"#;
    assert_eq!(cannot_hold(escaped, slack).0, Wanted(0));
    let [event_id] = fields(escaped, [Wanted::EVENT_ID]);
    assert_eq!(event_id.as_deref(), Some("Ev1"));
    assert_eq!(owned(every_field(escaped, Wanted::ALL)), reference(escaped));
}

#[test]
fn the_front_steps_over_flat_members_to_the_first_pending_key() {
    // Linear's timestamp after leading members, as on a Stripe-shaped event.
    let leading =
        br#"{"id":"e","o":"x","n":1,"ok":true,"webhookTimestamp":5,"data":{},"type":"t"}"#;
    let [timestamp, kind] = fields(leading, [Wanted::WEBHOOK_TIMESTAMP, Wanted::KIND]);
    assert_eq!(
        (timestamp.as_deref(), kind.as_deref()),
        (Some("5"), Some("t"))
    );
    // Not flat before the key, or the key is not where the search first met it: the
    // members are read one by one, with the same result.
    let not_flat: [&[u8]; 8] = [
        br#"{"id":"e","a":"{","webhookTimestamp":5,"data":{}}"#,
        br#"{"id":"e","a":"]","webhookTimestamp":5,"data":{}}"#,
        br#"{"id":"e","a":"\"webhookTimestamp\": 1","webhookTimestamp":5,"data":{}}"#,
        br#"{"id":"e","a":"\"","webhookTimestamp":5,"data":{}}"#,
        br#"{"id":"e","a":"webhookTimestamp","webhookTimestamp":5,"data":{}}"#,
        br#"{"id":"e","a":{"webhookTimestamp":1},"webhookTimestamp":5,"data":{}}"#,
        br#"{"event":{"type":"inner"},"a":1,"type":"outer","data":{}}"#,
        br#"{"id":"e","a":"x","data":{},"webhookTimestamp":5}"#,
    ];
    for body in not_flat.into_iter().chain([&leading[..]]) {
        assert!(body_fields_agree(body), "{}", String::from_utf8_lossy(body));
        assert_eq!(owned(every_field(body, Wanted::ALL)), reference(body));
    }
}

#[test]
fn stripe_shaped_bodies_are_read_from_both_ends() {
    let body = br#"{
  "id": "evt_1",
  "data": {"object": {"id": "pi_1", "type": "nested, not top-level", "note": "\"}"}},
  "livemode": false,
  "type": "payment_intent.succeeded"
}"#;
    let [id, kind] = fields(body, [Wanted::ID, Wanted::KIND]);
    assert_eq!(kind.as_deref(), Some("payment_intent.succeeded"));
    assert_eq!(id.as_deref(), Some("evt_1"));
    assert!(matches!(id, Some(Cow::Borrowed(_))));
    assert_eq!(owned(every_field(body, Wanted::ALL)), reference(body));
}

/// Random valid JSON objects (escapes, unicode, nesting, numbers, arrays, duplicate
/// keys, whitespace, wanted names nested and escaped) against serde_json, for every
/// subset of wanted fields.
#[test]
fn body_fields_agree_with_serde_json_on_generated_bodies() {
    let mut rng = StdRng::seed_from_u64(0x5eed_b0d1);
    let mut agreed = 0;
    for _ in 0..4000 {
        let body = generated_body(&mut rng);
        assert!(
            json_members(&body).is_some(),
            "the generator made invalid JSON: {}",
            String::from_utf8_lossy(&body)
        );
        if body_fields_agree(&body) {
            agreed += 1;
        }
        // Truncations and single-byte damage: never a panic, always the same answer.
        let cut = rng.gen_range(0..=body.len());
        let mut damaged = body.clone();
        damaged.truncate(cut);
        if let Some(byte) = damaged.get_mut(rng.gen_range(0..cut.max(1))) {
            *byte = *b"{}[]\"\\:, x".get(rng.gen_range(0..12)).unwrap_or(&b'x');
        }
        assert_eq!(
            every_field(&damaged, Wanted::ALL),
            every_field(&damaged, Wanted::ALL)
        );
    }
    // Most bodies have no duplicate wanted key, so they are compared exactly.
    assert!(agreed > 3000, "{agreed}");
}

const WANTED_NAMES: [&str; OUTER_COUNT] = OUTER;

/// The names a top-level key's object holds fields under (none for a plain field).
fn inner_names(outer: &str) -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|field| field.outer == outer)
        .filter_map(|field| field.inner)
        .collect()
}

fn generated_body(rng: &mut StdRng) -> Vec<u8> {
    let pretty = rng.gen_bool(0.3);
    let mut out = String::new();
    let mut names: Vec<String> = WANTED_NAMES
        .iter()
        .filter(|_| rng.gen_bool(0.6))
        .map(|n| n.to_string())
        .collect();
    for _ in 0..rng.gen_range(0..6) {
        names.push(random_key(rng));
    }
    if rng.gen_bool(0.1) {
        // A duplicate key, wanted or not.
        let dup = names.get(rng.gen_range(0..names.len().max(1))).cloned();
        names.extend(dup);
    }
    shuffle(rng, &mut names);
    out.push('{');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        ws(rng, pretty, &mut out);
        out.push_str(&string_literal(rng, name));
        ws(rng, false, &mut out);
        out.push(':');
        ws(rng, false, &mut out);
        let inner = inner_names(name);
        let value = match name.as_str() {
            _ if !inner.is_empty() && rng.gen_bool(0.7) => inner_object(rng, &inner, pretty),
            "webhookTimestamp" if rng.gen_bool(0.7) => random_number(rng),
            n if WANTED_NAMES.contains(&n) && rng.gen_bool(0.7) => random_string(rng),
            _ => random_value(rng, 0, pretty),
        };
        out.push_str(&value);
    }
    ws(rng, pretty, &mut out);
    out.push('}');
    ws(rng, pretty, &mut out);
    out.into_bytes()
}

fn inner_object(rng: &mut StdRng, inner: &[&str], pretty: bool) -> String {
    let mut members = Vec::new();
    for _ in 0..rng.gen_range(0..5) {
        let key = if rng.gen_bool(0.6) {
            inner[rng.gen_range(0..inner.len())].to_owned()
        } else {
            random_key(rng)
        };
        let value = if rng.gen_bool(0.6) {
            random_string(rng)
        } else {
            random_value(rng, 1, pretty)
        };
        members.push(format!("{}:{value}", string_literal(rng, &key)));
    }
    format!("{{{}}}", members.join(","))
}

fn random_value(rng: &mut StdRng, depth: usize, pretty: bool) -> String {
    let choice = if depth > 4 {
        rng.gen_range(0..4)
    } else {
        rng.gen_range(0..7)
    };
    match choice {
        0 => random_number(rng),
        1 => ["true", "false", "null"][rng.gen_range(0..3)].to_owned(),
        2 | 3 => random_string(rng),
        4 | 5 => {
            let mut members = Vec::new();
            for _ in 0..rng.gen_range(0..4) {
                // Wanted names inside nested objects must be ignored.
                let key = if rng.gen_bool(0.4) {
                    WANTED_NAMES[rng.gen_range(0..OUTER_COUNT)].to_owned()
                } else {
                    random_key(rng)
                };
                let mut member = String::new();
                ws(rng, pretty, &mut member);
                member.push_str(&string_literal(rng, &key));
                member.push(':');
                member.push_str(&random_value(rng, depth + 1, pretty));
                members.push(member);
            }
            format!("{{{}}}", members.join(","))
        }
        _ => {
            let items: Vec<String> = (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth + 1, pretty))
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

fn random_number(rng: &mut StdRng) -> String {
    [
        "0",
        "-12",
        "1.5e3",
        "1E-2",
        "-0.25",
        "-0",
        "123456789012345678901234567890",
        "9007199254740993",
        "1700000000000",
        "18446744073709551615",
        "18446744073709551616",
    ][rng.gen_range(0..11)]
    .to_owned()
}

fn random_key(rng: &mut StdRng) -> String {
    [
        "data",
        "object",
        "x",
        "ids",
        "typ",
        "type ",
        "Type",
        "event_type",
        "",
        "é",
        "{",
        "\"id\"",
    ][rng.gen_range(0..12)]
    .to_owned()
}

fn random_string(rng: &mut StdRng) -> String {
    let text = random_text(rng);
    string_literal(rng, &text)
}

/// Text with the characters JSON strings make interesting.
fn random_text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "evt_1NG8Du2eZvKYlo2C",
        "push",
        " ",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\u{1}",
        "\u{1f}",
        "é",
        "☕",
        "😀",
        "\u{7f}",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\\\"",
        "payment_intent.succeeded",
    ];
    (0..rng.gen_range(0..6))
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

/// `text` as a JSON string literal, each character written raw or escaped at random
/// (characters JSON requires escaped always are).
fn string_literal(rng: &mut StdRng, text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        let must = matches!(ch, '"' | '\\') || u32::from(ch) < 0x20;
        if !must && !rng.gen_bool(0.15) {
            out.push(ch);
            continue;
        }
        match (ch, rng.gen_range(0..3)) {
            ('"', 0) => out.push_str("\\\""),
            ('\\', 0) => out.push_str("\\\\"),
            ('/', 0) => out.push_str("\\/"),
            ('\n', 0) => out.push_str("\\n"),
            ('\t', 0) => out.push_str("\\t"),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    if rng.gen_bool(0.5) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
        }
    }
    out.push('"');
    out
}

fn ws(rng: &mut StdRng, pretty: bool, out: &mut String) {
    let pick = if pretty {
        rng.gen_range(2..5)
    } else {
        rng.gen_range(0..5)
    };
    out.push_str(["", "", " ", "\n  ", "\r\n\t"][pick]);
}

fn shuffle<T>(rng: &mut StdRng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.gen_range(0..=i));
    }
}

#[test]
fn printable_ascii_escapes_are_found_at_every_length_and_position() {
    // What each backslash is followed by: a printable escape (`\u0020`–`\u007f`), other
    // escapes, and a cut-off one.
    let spelled = |bytes: &[u8]| {
        (0..bytes.len()).any(|at| {
            bytes[at] == b'\\'
                && bytes.get(at + 1..at + 4) == Some(b"u00")
                && matches!(bytes.get(at + 4), Some(b'2'..=b'7'))
        })
    };
    let escapes: [&[u8]; 6] = [
        b"\\u0065", b"\\u007f", b"\\u00e9", b"\\u0010", b"\\n", b"\\u00",
    ];
    // Past 64 bytes, so the 64-byte steps, the 16-byte ones and the overlapping last
    // 16 each meet the escape.
    for len in 0..150 {
        for at in 0..len {
            for escape in escapes {
                for others in [0, 1, 2] {
                    // Other backslashes before it, so runs of hits in one chunk show.
                    let mut bytes: Vec<u8> = (0..len).map(|i| [b'a', b'"', b'u'][i % 3]).collect();
                    for other in 0..others {
                        if let Some(byte) = bytes.get_mut(at.saturating_sub(3 * other + 3)) {
                            *byte = b'\\';
                        }
                    }
                    bytes.truncate(at);
                    bytes.extend_from_slice(escape);
                    bytes.extend((0..len - at).map(|i| [b'0', b'7', b' '][i % 3]));
                    assert_eq!(
                        lex::escapes_printable_ascii(&bytes),
                        spelled(&bytes),
                        "{}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
    }
}

#[test]
fn strings_decode_as_serde_decodes_them_at_every_length_and_position() {
    // Each byte that ends the plain path, alone at each position of a plain string.
    let odd: [&[u8]; 9] = [
        b"\\n",
        b"\\u00e9",
        b"\\\"",
        b"\x1f",
        b"\x7f",
        b"\xc3\xa9",
        b"\xff",
        b"\\q",
        b"\t",
    ];
    for len in 0..40 {
        for at in 0..=len {
            for bytes in odd {
                let mut raw: Vec<u8> = (0..len).map(|i| b"az09 ~!/_"[i % 9]).collect();
                raw.splice(at..at, bytes.iter().copied());
                let quoted = [&b"\""[..], &raw, b"\""].concat();
                let serde = serde_json::from_slice::<String>(&quoted).ok();
                assert_eq!(
                    lex::decode(&raw).map(Cow::into_owned),
                    serde,
                    "{}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
    }
}

#[test]
fn quote_or_backslash_finds_what_memchr2_finds_at_every_length_and_position() {
    for len in 0..80 {
        for at in 0..=len {
            for (first, second) in [(b'"', None), (b'\\', None), (b'"', Some(b'\\'))] {
                // Bytes next to the ones searched for (`!` is `"` - 1, `]` is `\` + 1),
                // so a word-at-a-time test that borrows across bytes would show.
                let mut bytes: Vec<u8> =
                    (0..len).map(|i| [b'!', b']', 0x80, b'#'][i % 4]).collect();
                if at < len {
                    bytes[at] = first;
                    if let Some(second) = second {
                        bytes[len - 1] = second;
                    }
                }
                assert_eq!(
                    lex::quote_or_backslash(&bytes),
                    memchr::memchr2(b'"', b'\\', &bytes),
                    "{bytes:?}"
                );
            }
        }
    }
}

#[test]
fn last_quote_finds_what_memrchr_finds_at_every_length_and_position() {
    for len in 0..80 {
        for at in 0..=len {
            for other in [None, Some(0)] {
                // Bytes next to `"` (`!` below, `#` above, and 0x80 and 0xa2 with the
                // high bit), so a word-at-a-time test that mixes bytes up would show.
                let mut bytes: Vec<u8> =
                    (0..len).map(|i| [b'!', b'#', 0x80, 0xa2][i % 4]).collect();
                if at < len {
                    bytes[at] = b'"';
                    if let Some(other) = other {
                        bytes[other] = b'"';
                    }
                }
                assert_eq!(
                    lex::last_quote(&bytes),
                    memchr::memrchr(b'"', &bytes),
                    "{bytes:?}"
                );
            }
        }
    }
}
