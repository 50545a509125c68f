//! What the store can hold (SPEC §16). Bodies are bytes and stored as bytes in both
//! modes, whatever they contain. Text is another matter: PostgreSQL's `text` and
//! `jsonb` cannot hold NUL (U+0000), so any text that reaches a text column — an API
//! field, a path or query parameter, a de-dup key or event name read from a webhook —
//! is checked here first and refused with a 4xx naming the field, in both modes alike
//! (SQLite could keep it, but an instance must answer the same whichever store it
//! runs on). The store's own refusal (`StoreError::Refused`) is only the backstop.
//!
//! Text read from a webhook is also bounded ([`MAX_KEY_BYTES`]): the de-dup key is
//! indexed, and an index entry has a size limit of its own.

use serde_json::Value;

/// Longest de-dup key or event name hookgate keeps from a webhook. PostgreSQL refuses
/// btree entries above ~2.7 kB; no sender's ids or event names come near 1 KiB.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a piece of text cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unstorable {
    #[error("{field}: must not contain NUL (U+0000)")]
    Nul { field: String },
    #[error("{field}: longer than {max} bytes")]
    TooLong { field: String, max: usize },
}

impl Unstorable {
    pub fn field(&self) -> &str {
        match self {
            Unstorable::Nul { field } | Unstorable::TooLong { field, .. } => field,
        }
    }

    /// What is wrong, without the field's name.
    pub fn reason(&self) -> String {
        match self {
            Unstorable::Nul { .. } => "must not contain NUL (U+0000)".to_owned(),
            Unstorable::TooLong { max, .. } => format!("longer than {max} bytes"),
        }
    }
}

/// A key or name read from a webhook (de-dup key, event name): no NUL, at most
/// [`MAX_KEY_BYTES`].
pub fn check_key(field: &str, value: Option<&str>) -> Result<(), Unstorable> {
    let Some(value) = value else { return Ok(()) };
    if value.contains('\0') {
        return Err(Unstorable::Nul {
            field: field.to_owned(),
        });
    }
    if value.len() > MAX_KEY_BYTES {
        return Err(Unstorable::TooLong {
            field: field.to_owned(),
            max: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

/// The path (as `a.b[2].c`) of the first string or object key in `value` that holds a
/// NUL, under `root` (empty for the document itself).
pub fn nul_in_json(value: &Value, root: &str) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then(|| path_or_root(root)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in_json(item, &format!("{root}[{i}]"))),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let path = if root.is_empty() {
                printable(key)
            } else {
                format!("{root}.{}", printable(key))
            };
            if key.contains('\0') {
                return Some(path);
            }
            nul_in_json(member, &path)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

fn path_or_root(root: &str) -> String {
    if root.is_empty() {
        "body".to_owned()
    } else {
        root.to_owned()
    }
}

/// `text` with control characters escaped (`\u{0}`), for naming a field in an error
/// message or log line without carrying the character itself.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_path_of_the_first_nul_in_a_document() {
        let cases: &[(Value, Option<&str>)] = &[
            (json!({"name": "acme"}), None),
            (json!({"name": "ac\u{0}me"}), Some("name")),
            (json!({"a": {"b": [1, "x", "y\u{0}"]}}), Some("a.b[2]")),
            (json!({"a\u{0}b": 1}), Some("a\\u{0}b")),
            (json!("plain\u{0}"), Some("body")),
            (json!([{"k": "\u{0}"}]), Some("[0].k")),
            (
                json!({"unicode": "\u{202e}é", "n": null, "t": true, "x": 1.5}),
                None,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(nul_in_json(value, "").as_deref(), *expected, "{value}");
        }
        assert_eq!(
            nul_in_json(&json!({"k": "\u{0}"}), "data").as_deref(),
            Some("data.k")
        );
    }

    #[test]
    fn keys_from_webhooks_are_bounded_and_nul_free() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let exact = "x".repeat(MAX_KEY_BYTES);
        let cases: &[(Option<&str>, Option<Unstorable>)] = &[
            (None, None),
            (Some("evt_1"), None),
            (Some(""), None),
            (Some(&exact), None),
            (
                Some("evt\u{0}1"),
                Some(Unstorable::Nul {
                    field: "dedup_key".into(),
                }),
            ),
            (
                Some(&long),
                Some(Unstorable::TooLong {
                    field: "dedup_key".into(),
                    max: MAX_KEY_BYTES,
                }),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(check_key("dedup_key", *value).err(), *expected, "{value:?}");
        }
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("a\u{0}b\nc"), "a\\u{0}b\\u{a}c");
        assert_eq!(printable("naïve"), "naïve");
    }
}
