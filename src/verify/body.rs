//! The few body fields some schemes take their de-dup key, event name, timestamp or
//! signature from ([`FIELDS`]): top-level members such as `id`, `type`, `event_id` or
//! `webhookTimestamp`, and members of a top-level object such as `event.type` or
//! `signature.token`. Fields are strings, but for `webhookTimestamp`, an integer.
//!
//! Read only after the signature verified, so the body is the sender's own; this runs on
//! every accepted webhook, next to an HMAC of the same bytes (SPEC §10: verification
//! ≤ 1.2× the bare HMAC), so it is a structural scan rather than a JSON parse.
//!
//! # How the scan reads the body
//!
//! - The body must start (after JSON whitespace: space, tab, CR, LF) with `{`. Anything
//!   else — arrays, scalars, form-encoded Slack commands and interactivity payloads,
//!   empty bodies — yields no fields.
//! - A string is skipped by searching for `"` or `\`
//!   (`memchr2`), a nested object or array by counting brackets outside strings, a number
//!   or literal up to the next `,`, `}`, `]` or whitespace. Nothing is materialised: a
//!   value is decoded (escapes, UTF-8 check) only when it is returned.
//! - Each caller says which fields it wants ([`Wanted`]); the scan stops as soon as every
//!   wanted field is *decided* (its key was met). A wanted key with a string value gives
//!   `Some`, with any other value `None`.
//! - The leading members are read first, up to the first container value that holds
//!   no wanted field (Standard Webhooks payloads start with `type`, many senders' events
//!   with `id`, `type` and a few short members before their `data`; a body whose
//!   members are all strings, numbers or literals is read to its end in one pass); then
//!   members *from the end of the object
//!   backwards*, as long as their values are strings, numbers or literals (a string's
//!   opening quote is the first `"` preceded by an even run of backslashes); then from
//!   the front again where the first read stopped, across containers, up to the members
//!   already read from the back.
//!   Stripe puts `type` last and the whole event in `data` before it: this way neither
//!   `data` nor any other large middle member is scanned when the ends already decide
//!   every wanted field.
//! - A nested field (`event.type`, `signature.token`): the top-level object is scanned
//!   member by member, and the last member of each wanted name counts, as in a
//!   `serde_json::Value` map.
//! - An integer field is decided from a number's text as sent, when `serde_json` reads
//!   that number as a `u64` (digits only, within range); any other value is `None`.
//!
//! # Results
//!
//! On every body that `serde_json` parses as an object without duplicate keys, the
//! result equals a `serde_json` parse of the same fields (the `reference` oracle in the
//! tests, the differential test and the `body_fields` fuzz target check this). Elsewhere
//! the scan does not validate, by choice — the body is authentic and only names the
//! event, so validating it would cost more than the MAC for nothing:
//! - A returned string is decoded exactly as `serde_json` would; where `serde_json` would
//!   refuse that string (bad escape, lone surrogate, raw control character, invalid
//!   UTF-8) the field is `None`, and only that field.
//! - Duplicate wanted keys: not detected. Whichever occurrence the scan decides first is
//!   used: the first one if no container value precedes it,
//!   else the last one if the back read reaches it, else the first from the front
//!   (`serde_json` refuses such a body, so the previous serde-based code returned no
//!   fields at all).
//! - Valid JSON that `serde_json` refuses elsewhere (numbers beyond `f64`, lone
//!   surrogates, nesting deeper than 128) costs the previous all-`None` only where the
//!   scan reads it: a wanted field's own value.
//! - Malformed JSON: the scan stops where the bytes stop fitting the grammar it tracks
//!   and keeps the fields decided before. Trailing bytes after the object are not read
//!   by the front scan (`{"type":"t"} x` gives `type` "t"); a truncated body gives what
//!   its complete members gave. Other garbage gives deterministic but unspecified fields.
//!
//! The scan never panics (every access is checked), never recurses (nesting is a
//! counter), and is linear: each read only moves one way, the second front read starts
//! where the first stopped and stops where the members read from the back begin, and
//! each byte is searched at most twice.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::{memchr, memmem};

mod lex;

use lex::{
    container_end, decode, key_and_colon, rskip_ws, scalar_end, scalar_start_back, skip_ws,
    string_at, string_start_back,
};

/// Where a field is in the body: a top-level member (`inner` is `None`), or a member of
/// the object that is the top-level member `outer`. A field is a string, or with
/// `number` a non-negative integer (its digits, as sent).
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) outer: &'static str,
    pub(crate) inner: Option<&'static str>,
    pub(crate) number: bool,
}

const fn top(outer: &'static str) -> Field {
    Field {
        outer,
        inner: None,
        number: false,
    }
}

const fn nested(outer: &'static str, inner: &'static str) -> Field {
    Field {
        outer,
        inner: Some(inner),
        number: false,
    }
}

/// Every field a scheme reads, in [`Wanted`] bit order. A field's bit is its index.
pub(crate) const FIELDS: [Field; FIELD_COUNT] = [
    top("id"),
    top("type"),
    top("event_id"),
    nested("event", "type"),
    top("challenge"),
    top("event_type"),
    top("topic"),
    top("webhookEvent"),
    Field {
        outer: "webhookTimestamp",
        inner: None,
        number: true,
    },
    nested("event", "id"),
    nested("event", "event_type"),
    nested("signature", "timestamp"),
    nested("signature", "token"),
    nested("signature", "signature"),
    nested("event-data", "id"),
    nested("event-data", "event"),
];

pub(crate) const FIELD_COUNT: usize = 16;

/// The distinct top-level keys of [`FIELDS`], in order of first use.
const OUTER: [&str; OUTER_COUNT] = [
    "id",
    "type",
    "event_id",
    "event",
    "challenge",
    "event_type",
    "topic",
    "webhookEvent",
    "webhookTimestamp",
    "signature",
    "event-data",
];

const OUTER_COUNT: usize = 11;

/// For each top-level key of [`OUTER`], the fields read under it.
const OUTER_FIELDS: [Wanted; OUTER_COUNT] = {
    let mut out = [Wanted(0); OUTER_COUNT];
    let mut outer = 0;
    while outer < OUTER_COUNT {
        let mut bit = 0;
        while bit < FIELD_COUNT {
            if same(FIELDS[bit].outer, OUTER[outer]) {
                out[outer] = Wanted(out[outer].0 | 1 << bit);
            }
            bit += 1;
        }
        outer += 1;
    }
    out
};

/// For each top-level key of [`OUTER`], whether its fields are inside its value, an
/// object (`event`, `signature`, `event-data`).
const OUTER_IS_OBJECT: [bool; OUTER_COUNT] = {
    let mut out = [false; OUTER_COUNT];
    let mut outer = 0;
    while outer < OUTER_COUNT {
        let mut bit = 0;
        while bit < FIELD_COUNT {
            if same(FIELDS[bit].outer, OUTER[outer]) && FIELDS[bit].inner.is_some() {
                out[outer] = true;
            }
            bit += 1;
        }
        outer += 1;
    }
    out
};

/// `a == b`, for the constant tables.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut at = 0;
    while at < a.len() {
        if a[at] != b[at] {
            return false;
        }
        at += 1;
    }
    true
}

/// Fields of a JSON body, by [`Wanted`] bit; each `None` when absent, not of its kind
/// (a string, or a non-negative integer for a `number` field), not wanted, or not a
/// string `serde_json` would accept. Strings borrow from the body unless they contain
/// escapes, so a caller pays only for what it keeps.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyFields<'a>([Option<Cow<'a, str>>; FIELD_COUNT]);

impl<'a> BodyFields<'a> {
    /// The value of the one field `field` names (the first, if it names several).
    pub(crate) fn get(&self, field: Wanted) -> Option<&str> {
        self.0.get(field.first_bit()?)?.as_deref()
    }

    /// Takes the value of the one field `field` names (the first, if several).
    pub(crate) fn take(&mut self, field: Wanted) -> Option<Cow<'a, str>> {
        self.0.get_mut(field.first_bit()?)?.take()
    }

    /// Every field's value, in bit order.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn into_values(self) -> [Option<Cow<'a, str>>; FIELD_COUNT] {
        self.0
    }
}

/// Which [`BodyFields`] a scheme reads. The scan stops once all of them are decided, so
/// asking for fewer is cheaper; fields not asked for stay `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wanted(u32);

impl Wanted {
    /// Top-level `id`.
    pub(crate) const ID: Self = Self(1);
    /// Top-level `type`.
    pub(crate) const KIND: Self = Self(1 << 1);
    /// Top-level `event_id`.
    pub(crate) const EVENT_ID: Self = Self(1 << 2);
    /// `type` in the top-level `event` object.
    pub(crate) const EVENT_TYPE: Self = Self(1 << 3);
    /// Top-level `challenge`.
    pub(crate) const CHALLENGE: Self = Self(1 << 4);
    /// Top-level `event_type`.
    pub(crate) const EVENT_TYPE_MEMBER: Self = Self(1 << 5);
    /// Top-level `topic`.
    pub(crate) const TOPIC: Self = Self(1 << 6);
    /// Top-level `webhookEvent`.
    pub(crate) const WEBHOOK_EVENT: Self = Self(1 << 7);
    /// Top-level `webhookTimestamp`, a non-negative integer.
    pub(crate) const WEBHOOK_TIMESTAMP: Self = Self(1 << 8);
    /// `id` in the top-level `event` object.
    pub(crate) const EVENT_OBJECT_ID: Self = Self(1 << 9);
    /// `event_type` in the top-level `event` object.
    pub(crate) const EVENT_OBJECT_EVENT_TYPE: Self = Self(1 << 10);
    /// `timestamp` in the top-level `signature` object.
    pub(crate) const SIGNATURE_TIMESTAMP: Self = Self(1 << 11);
    /// `token` in the top-level `signature` object.
    pub(crate) const SIGNATURE_TOKEN: Self = Self(1 << 12);
    /// `signature` in the top-level `signature` object.
    pub(crate) const SIGNATURE_SIGNATURE: Self = Self(1 << 13);
    /// `id` in the top-level `event-data` object.
    pub(crate) const EVENT_DATA_ID: Self = Self(1 << 14);
    /// `event` in the top-level `event-data` object.
    pub(crate) const EVENT_DATA_EVENT: Self = Self(1 << 15);
    #[cfg(any(test, fuzzing))]
    pub(crate) const ALL: Self = Self((1 << FIELD_COUNT) - 1);

    pub(crate) const fn and(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    const fn has(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
    const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
    const fn is_empty(self) -> bool {
        self.0 == 0
    }
    fn first_bit(self) -> Option<usize> {
        (!self.is_empty()).then(|| self.0.trailing_zeros() as usize)
    }
    /// Whether the field at `index`, in [`FIELDS`] order, is wanted.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn has_index(self, index: usize) -> bool {
        index < FIELD_COUNT && self.0 & (1 << index) != 0
    }
    /// Subsets worth checking that a narrower ask changes nothing else: none, all, each
    /// field alone, and all but one.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn subsets() -> impl Iterator<Item = Self> {
        let one = |i: usize| 1u32 << i;
        let all = Self::ALL.0;
        let singles = (0..FIELD_COUNT).map(one);
        let all_but_one = (0..FIELD_COUNT).map(move |i| all & !one(i));
        [0, all]
            .into_iter()
            .chain(singles)
            .chain(all_but_one)
            .map(Self)
    }
}

/// A top-level key the scan looks for: its index in [`OUTER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(usize);

impl Key {
    /// One `match` on the name (compiled to a length switch, then a comparison), as
    /// every member's key of a scanned body is looked up here.
    fn named(name: &[u8]) -> Option<Self> {
        let at = match name {
            b"id" => 0,
            b"type" => 1,
            b"event_id" => 2,
            b"event" => 3,
            b"challenge" => 4,
            b"event_type" => 5,
            b"topic" => 6,
            b"webhookEvent" => 7,
            b"webhookTimestamp" => 8,
            b"signature" => 9,
            b"event-data" => 10,
            _ => return None,
        };
        debug_assert_eq!(OUTER.get(at).map(|o| o.as_bytes()), Some(name));
        Some(Self(at))
    }

    /// The fields read under this key.
    fn fields(self) -> Wanted {
        OUTER_FIELDS.get(self.0).copied().unwrap_or(Wanted(0))
    }

    /// Whether its fields are inside its value, an object.
    fn is_object(self) -> bool {
        OUTER_IS_OBJECT.get(self.0).copied().unwrap_or(false)
    }
}

/// Extracts the `wanted` [`BodyFields`] from a JSON object body (see the module
/// documentation for what happens with anything else).
pub(crate) fn fields(body: &[u8], wanted: Wanted) -> BodyFields<'_> {
    let mut scan = Scan {
        body,
        pending: wanted,
        fields: BodyFields::default(),
    };
    let open = skip_ws(body, 0);
    if wanted.is_empty() || body.get(open) != Some(&b'{') {
        return scan.fields;
    }
    // The leading members, up to the first container: many senders put their id and
    // type first (Standard Webhooks' payload structure starts with `type`), and reading
    // a short member is cheaper than the read from the back it would save.
    let resume = match scan.front(open, usize::MAX, true) {
        Front::StoppedAt(resume) => resume,
        Front::Finished => return scan.fields,
        Front::Malformed => {
            // The back may still hold a field.
            scan.back(open);
            return scan.fields;
        }
    };
    // Then the back: it reads only strings, numbers and literals, so it is cheap, and
    // it holds what Stripe sends last (`type`, after the whole event in `data`).
    let back_members = scan.back(open);
    if !scan.pending.is_empty() {
        // Before reading the middle (which, for a key that is not there, means reading
        // to the end): drop the keys the body cannot hold at all.
        scan.pending = scan.pending.without(cannot_hold(body, scan.pending));
    }
    if !scan.pending.is_empty() {
        scan.front(resume, back_members.unwrap_or(usize::MAX), false);
    }
    scan.fields
}

/// How a read from the front ended.
enum Front {
    /// Every wanted field decided, the object closed, or the members read from the back
    /// reached: nothing more to read.
    Finished,
    /// Where the bytes stop fitting the grammar.
    Malformed,
    /// Before the member whose key's opening quote is here: the first whose value is a
    /// container (other than a wanted object, which is read).
    StoppedAt(usize),
}

/// What reading one member from the front met.
enum Member {
    /// A value that was read (or skipped) to this position after it.
    Read(usize),
    /// A value left unread: a container.
    Unread,
}

/// Each field's top-level key, quoted as it appears unescaped in a body.
static QUOTED_KEYS: LazyLock<[(Wanted, memmem::Finder<'static>); OUTER_COUNT]> =
    LazyLock::new(|| {
        std::array::from_fn(|at| {
            let quoted = format!("\"{}\"", OUTER[at]).into_bytes();
            (Key(at).fields(), memmem::Finder::new(&quoted).into_owned())
        })
    });

/// The `wanted` fields whose key appears nowhere in `body`, escaped or not, so no scan
/// can meet it. A key's name is letters, `_` and `-`, so it is either spelled plainly (quotes
/// included, then a colon) or holds a `\u00XX` escape of printable ASCII; a body with
/// such an escape anywhere proves nothing. `memmem` reads a kilobyte in tens of
/// nanoseconds, several times faster than the scan.
fn cannot_hold(body: &[u8], wanted: Wanted) -> Wanted {
    let used_as_key = |quoted: &memmem::Finder<'_>| {
        // A member's key is followed by its colon; Stripe's `"object": "event"` is not.
        let after = quoted.needle().len();
        quoted
            .find_iter(body)
            .any(|at| body.get(skip_ws(body, at + after)) == Some(&b':'))
    };
    let not_plain = QUOTED_KEYS
        .iter()
        .filter(|(field, quoted)| wanted.has(*field) && !used_as_key(quoted))
        .fold(Wanted(0), |absent, (field, _)| {
            absent.and(Wanted(field.0 & wanted.0))
        });
    // Plain keys are usually found near the front; only when one is not is the whole
    // body searched for escapes.
    if not_plain.is_empty() {
        return not_plain;
    }
    // A single-byte search is the fastest there is, and most bodies hold few `\`.
    let ascii_escape = memchr::memchr_iter(b'\\', body).any(|at| {
        body.get(at + 1..at + 4) == Some(b"u00") && matches!(body.get(at + 4), Some(b'2'..=b'7'))
    });
    if ascii_escape {
        Wanted(0)
    } else {
        not_plain
    }
}

struct Scan<'a> {
    body: &'a [u8],
    /// Wanted fields whose key has not been met yet.
    pending: Wanted,
    fields: BodyFields<'a>,
}

/// A member value as the scan sees it.
#[derive(Clone, Copy)]
enum Value<'a> {
    /// A string's raw bytes between its quotes, escapes not yet decoded.
    String(&'a [u8]),
    /// A number or literal, as sent.
    Scalar(&'a [u8]),
    /// A container: a wanted field with such a value is `None`.
    Other,
}

impl<'a> Value<'a> {
    /// The value of a field of this kind: a decoded string, or a number field's digits.
    fn of(self, field: &Field) -> Option<Cow<'a, str>> {
        match (self, field.number) {
            (Value::String(raw), false) => decode(raw),
            (Value::Scalar(raw), true) => unsigned(raw),
            _ => None,
        }
    }
}

/// The digits of a number that `serde_json` reads as a `u64` (plain digits, no sign,
/// fraction or exponent, no leading zero, at most `u64::MAX`).
fn unsigned(raw: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(raw).ok()?;
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'));
    (plain && text.parse::<u64>().is_ok()).then_some(Cow::Borrowed(text))
}

impl<'a> Scan<'a> {
    /// The field `raw_key` names, if it is wanted and not decided yet.
    fn pending_key(&self, raw_key: &[u8]) -> Option<Key> {
        let key = match Key::named(raw_key) {
            Some(key) => key,
            // Only an escaped key (`"\u0069d"`) can still name a field once decoded.
            None if memchr(b'\\', raw_key).is_some() => Key::named(decode(raw_key)?.as_bytes())?,
            None => return None,
        };
        self.pending.has(key.fields()).then_some(key)
    }

    /// Decides every pending field under `key`: a top-level one from `value`, a nested
    /// one from `inner` (its member's value in the object, `None` when absent or when
    /// `value` is no object).
    fn decide_with(
        &mut self,
        key: Key,
        value: Value<'a>,
        inner: impl Fn(&'static str) -> Option<Value<'a>>,
    ) {
        let under = key.fields();
        // Only the bits to decide are visited: a key names one to three fields of 16.
        let mut to_decide = under.0 & self.pending.0;
        while to_decide != 0 {
            let bit = to_decide.trailing_zeros() as usize;
            to_decide &= to_decide - 1;
            let Some(field) = FIELDS.get(bit) else {
                continue;
            };
            let found = match field.inner {
                None => value.of(field),
                Some(name) => inner(name).and_then(|v| v.of(field)),
            };
            if let Some(slot) = self.fields.0.get_mut(bit) {
                *slot = found;
            }
        }
        self.pending = self.pending.without(under);
    }

    /// Decides `key` from a value that is not an object holding its fields.
    fn decide_value(&mut self, key: Key, value: Value<'a>) {
        self.decide_with(key, value, |_| None);
    }

    /// Reads members front to back, up to the `,` at `back_members` where the members
    /// read from the back begin, from `from`: the object's `{`, or the opening quote of
    /// the key a previous read stopped at. Across containers, or, with `leading_only`,
    /// up to the first member whose value is a container other than an object holding
    /// wanted fields (`event`, `signature`, `event-data`). Stops early once every wanted field is
    /// decided, or where the bytes are malformed.
    fn front(&mut self, from: usize, back_members: usize, leading_only: bool) -> Front {
        let body = self.body;
        if back_members <= from {
            // Every member left was read from the back.
            return Front::Finished;
        }
        let first_key = match body.get(from) {
            Some(b'{') => skip_ws(body, from + 1),
            _ => from,
        };
        match body.get(first_key) {
            Some(b'"') => {}
            Some(b'}') => return Front::Finished,
            _ => return Front::Malformed,
        }
        self.members(first_key, back_members, leading_only)
    }

    /// [`Self::front`] from a key's opening quote at `at`.
    fn members(&mut self, mut at: usize, back_members: usize, leading_only: bool) -> Front {
        let body = self.body;
        loop {
            let value_end = match self.member(at, leading_only) {
                Some(Member::Read(value_end)) => value_end,
                Some(Member::Unread) if self.pending.is_empty() => return Front::Finished,
                Some(Member::Unread) => return Front::StoppedAt(at),
                None => return Front::Malformed,
            };
            if self.pending.is_empty() {
                return Front::Finished;
            }
            let after = skip_ws(body, value_end);
            match body.get(after) {
                // The members read from the back begin here.
                Some(b',') if after >= back_members => return Front::Finished,
                Some(b',') => {}
                Some(b'}') => return Front::Finished,
                _ => return Front::Malformed,
            }
            at = skip_ws(body, after + 1);
            if body.get(at) != Some(&b'"') {
                return Front::Malformed;
            }
        }
    }

    /// Reads the member whose key's opening quote is at `at` and decides its field if
    /// wanted. A container value that is not an object holding wanted fields is
    /// skipped, or with `leading_only` left unread. `None` where the bytes are
    /// malformed.
    fn member(&mut self, at: usize, leading_only: bool) -> Option<Member> {
        let body = self.body;
        let (raw_key, value_at) = key_and_colon(body, at)?;
        let key = self.pending_key(raw_key);
        let value_end = match body.get(value_at) {
            Some(b'"') => {
                let (raw, end) = string_at(body, value_at)?;
                if let Some(key) = key {
                    self.decide_value(key, Value::String(raw));
                }
                end
            }
            Some(b'{') if key.is_some_and(Key::is_object) => match key {
                Some(key) => self.inner_object(key, value_at)?,
                None => return None,
            },
            Some(b'{' | b'[') => {
                if let Some(key) = key {
                    self.decide_value(key, Value::Other);
                }
                if leading_only || self.pending.is_empty() {
                    return Some(Member::Unread);
                }
                container_end(body, value_at)?
            }
            _ => {
                let end = scalar_end(body, value_at)?;
                if let Some(key) = key {
                    self.decide_value(key, Value::Scalar(body.get(value_at..end)?));
                }
                end
            }
        };
        Some(Member::Read(value_end))
    }

    /// Scans the object starting at its `{`, the value of `key`, and decides the fields
    /// nested in it from each one's last member (as in a `serde_json::Value` map).
    /// Returns the position after the closing `}`; `None` (and the fields left
    /// undecided) if the object is malformed.
    fn inner_object(&mut self, key: Key, open: usize) -> Option<usize> {
        let body = self.body;
        // The last value of each wanted inner name, by position in `FIELDS`.
        let mut found: [Option<Value<'a>>; FIELD_COUNT] = [None; FIELD_COUNT];
        let under = key.fields();
        let inner_bit = |raw_key: &[u8]| -> Option<usize> {
            let plain = FIELDS.iter().enumerate().position(|(bit, field)| {
                under.has(Wanted(1 << bit)) && field.inner.map(str::as_bytes) == Some(raw_key)
            });
            match plain {
                Some(bit) => Some(bit),
                None if memchr(b'\\', raw_key).is_some() => {
                    let decoded = decode(raw_key)?;
                    FIELDS.iter().enumerate().position(|(bit, field)| {
                        under.has(Wanted(1 << bit)) && field.inner == Some(&*decoded)
                    })
                }
                None => None,
            }
        };
        let mut at = skip_ws(body, open + 1);
        if body.get(at) == Some(&b'}') {
            self.decide_value(key, Value::Other);
            return Some(at + 1);
        }
        loop {
            let (raw_key, value_at) = key_and_colon(body, at)?;
            let bit = inner_bit(raw_key);
            let (value, value_end) = match body.get(value_at) {
                Some(b'"') => {
                    let (raw, end) = string_at(body, value_at)?;
                    (Value::String(raw), end)
                }
                Some(b'{' | b'[') => (Value::Other, container_end(body, value_at)?),
                _ => {
                    let end = scalar_end(body, value_at)?;
                    (Value::Scalar(body.get(value_at..end)?), end)
                }
            };
            if let Some(slot) = bit.and_then(|bit| found.get_mut(bit)) {
                *slot = Some(value);
            }
            let next = skip_ws(body, value_end);
            match body.get(next) {
                Some(b',') => at = skip_ws(body, next + 1),
                Some(b'}') => {
                    let inner = |name: &'static str| {
                        FIELDS
                            .iter()
                            .enumerate()
                            .find(|(bit, field)| {
                                under.has(Wanted(1 << bit)) && field.inner == Some(name)
                            })
                            .and_then(|(bit, _)| found.get(bit).copied().flatten())
                    };
                    self.decide_with(key, Value::Other, inner);
                    return Some(next + 1);
                }
                _ => return None,
            }
        }
    }

    /// Reads members from the end of the object whose `{` is at `open` backwards, while
    /// their values are strings, numbers or literals. Returns the position of the `,`
    /// before the earliest member read (`open` if that was the first member), or `None`
    /// if none was.
    fn back(&mut self, open: usize) -> Option<usize> {
        let body = self.body;
        let low = open + 1;
        let close = rskip_ws(body, low, body.len()).checked_sub(1)?;
        if close < low || body.get(close) != Some(&b'}') {
            // Trailing bytes after the object, or a truncated body: nothing read here.
            return None;
        }
        let mut read_from = None;
        // `end` is one past the last byte of the member about to be read.
        let mut end = close;
        loop {
            let value_end = rskip_ws(body, low, end);
            let last = value_end.checked_sub(1).filter(|last| *last >= low)?;
            let (value, value_start) = match body.get(last) {
                Some(b'"') => {
                    let open = string_start_back(body, low, last)?;
                    (Value::String(body.get(open + 1..last)?), open)
                }
                // A container: left to the front scan.
                Some(b'}' | b']') | None => return read_from,
                Some(_) => {
                    let start = scalar_start_back(body, low, value_end)?;
                    (Value::Scalar(body.get(start..value_end)?), start)
                }
            };
            let colon = rskip_ws(body, low, value_start).checked_sub(1)?;
            if colon < low || body.get(colon) != Some(&b':') {
                return read_from;
            }
            let key_close = rskip_ws(body, low, colon).checked_sub(1)?;
            if key_close < low || body.get(key_close) != Some(&b'"') {
                return read_from;
            }
            let key_open = string_start_back(body, low, key_close)?;
            let separator = rskip_ws(body, low, key_open).checked_sub(1)?;
            // Only whitespace between the object's `{` and this key: the first member.
            let first_member = separator == open;
            if !first_member && (separator < low || body.get(separator) != Some(&b',')) {
                return read_from;
            }
            // A whole `, "key": value` member: it counts.
            read_from = Some(separator);
            if let Some(key) = body
                .get(key_open + 1..key_close)
                .and_then(|raw_key| self.pending_key(raw_key))
            {
                self.decide_value(key, value);
                if self.pending.is_empty() {
                    return read_from;
                }
            }
            if first_member {
                return read_from;
            }
            end = separator;
        }
    }
}

#[cfg(test)]
mod tests;
