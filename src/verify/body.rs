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
//! - A string is skipped by searching for `"` or `\` (16 bytes a compare, `memchr2`
//!   past the first 32), a nested object or array by counting brackets outside
//!   strings, a number or literal up to the next `,`, `}`, `]` or whitespace. Nothing is
//!   materialised: a value is decoded (escapes, UTF-8 check) only when it is returned.
//! - Each caller says which fields it wants ([`Wanted`]); the scan stops as soon as every
//!   wanted field is *decided* (its key was met). A wanted key with a string value gives
//!   `Some`, with any other value `None`.
//! - The two ends are read first, one member from each in turn, the front first:
//!   - from the front, up to the first container value that holds no wanted field
//!     (Standard Webhooks payloads start with `type`, many senders' events with `id`,
//!     `type` and a few short members before their `data`);
//!   - *from the end of the object backwards*, as long as values are strings, numbers
//!     or literals (a string's opening quote is the first `"` preceded by an even run
//!     of backslashes). Stripe puts `type` last, after the whole event in `data`. A
//!     string value longer than [`lex::SHORT`] bytes waits until the front stops, so
//!     a body ending in a long text is not searched backwards for a field its front
//!     holds.
//!
//!   The two reads never take the same member: each stops where the other's members
//!   begin.
//! - After the first turn of each end, the keys the body cannot hold at all are dropped
//!   ([`cannot_hold`], a `memmem` search per pending key, one for all the pending keys
//!   that begin with `event`): a Stripe event read for a field it lacks is not read
//!   member by member to its `data`. The same search finds where the first key still
//!   pending is used; when only flat members lie between the front and it (no bracket,
//!   no backslash, an even number of quotes: [`flat_members`]), the front steps over
//!   them, so Linear's `webhookTimestamp` after a few leading members costs one read.
//! - Then the middle, from where the front stopped, across containers, up to the members
//!   read from the back. Neither `data` nor any other large middle member is scanned
//!   when the ends decide every wanted field.
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
//!   used, in the order above: the ends a member from each in turn, the front first,
//!   then the middle from the front (`serde_json` refuses such a body, so the previous
//!   serde-based code returned no fields at all).
//! - Valid JSON that `serde_json` refuses elsewhere (numbers beyond `f64`, lone
//!   surrogates, nesting deeper than 128) costs the previous all-`None` only where the
//!   scan reads it: a wanted field's own value.
//! - Malformed JSON: the scan stops where the bytes stop fitting the grammar it tracks
//!   and keeps the fields decided before. Trailing bytes after the object are not read
//!   by the front scan (`{"type":"t"} x` gives `type` "t"); a truncated body gives what
//!   its complete members gave. Other garbage gives deterministic but unspecified fields.
//!
//! The scan never panics (every access is checked), never recurses (nesting is a
//! counter), and is linear: each read only moves one way, the front and back reads stop
//! where the other's members begin, the middle read starts where the front stopped, and
//! besides them each `memmem` search for pending keys reads the body at most once.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;

mod bytemask;
mod lex;

use lex::{
    container_end, decode, escapes_printable_ascii, key_and_colon, last_quote, rskip_ws,
    scalar_end, scalar_start_back, skip_ws, string_at, string_start_back, SHORT,
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
    a.len() == b.len() && begins_with(a, b)
}

/// Which of [`FIELDS`] a scheme reads, by bit. The scan stops once all of them are
/// decided, so asking for fewer is cheaper.
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

/// The `wanted` fields of a JSON object body, one [`Wanted`] field each, in the order
/// asked; see the module documentation for what happens with anything else. Each is
/// `None` when absent, not of its kind (a string, or a non-negative integer for a
/// `number` field), or not a string `serde_json` would accept. Strings borrow from the
/// body unless they contain escapes, so a caller pays only for what it keeps. An array
/// of the few fields asked for, rather than a table of all of them, costs no copy of
/// sixteen slots on every webhook.
pub(crate) fn fields<const N: usize>(
    body: &[u8],
    wanted: [Wanted; N],
) -> [Option<Cow<'_, str>>; N] {
    let mut found = [const { None }; N];
    read(body, &wanted, &mut found);
    found
}

/// Every field `wanted` names, by bit (`None` for the others).
#[cfg(any(test, fuzzing))]
pub(crate) fn every_field(body: &[u8], wanted: Wanted) -> [Option<Cow<'_, str>>; FIELD_COUNT] {
    let slots: [Wanted; FIELD_COUNT] = std::array::from_fn(|bit| Wanted(wanted.0 & 1 << bit));
    let mut found = [const { None }; FIELD_COUNT];
    read(body, &slots, &mut found);
    found
}

/// Reads the fields `slots` name (one each; an empty slot names none) into the same
/// positions of `found`.
fn read<'a>(body: &'a [u8], slots: &[Wanted], found: &mut [Option<Cow<'a, str>>]) {
    let wanted = slots.iter().fold(Wanted(0), |all, slot| all.and(*slot));
    let mut scan = Scan {
        body,
        pending: wanted,
        slots,
        found,
    };
    let open = skip_ws(body, 0);
    if wanted.is_empty() || body.get(open) != Some(&b'{') {
        return;
    }
    let first_key = skip_ws(body, open + 1);
    let mut front = match body.get(first_key) {
        Some(b'"') => Front::At(first_key),
        Some(b'}') => return,
        // The back may still hold a field.
        _ => Front::Malformed,
    };
    let mut back = Back::of(body, open);
    // Both ends, one member from each in turn, while their values are strings, numbers
    // or literals: senders put their id and type first (Standard Webhooks' payload
    // starts with `type`) or last (Stripe's `type` follows the whole event in `data`),
    // and a short member costs less than the read from the other end it may save.
    let mut ruled_out = false;
    loop {
        if let Front::At(at) = front {
            front = match scan.front_step(at, back.from, true) {
                Step::Next(next) => Front::At(next),
                Step::Unread => Front::StoppedAt(at),
                Step::Finished => return,
                Step::Malformed => Front::Malformed,
            };
        }
        if scan.pending.is_empty() {
            return;
        }
        let front_reading = matches!(front, Front::At(_));
        if back.state.reads(front_reading) {
            scan.back_step(&mut back, front.limit(open), front_reading);
            if scan.pending.is_empty() {
                return;
            }
        }
        if !ruled_out {
            // Once both ends have had a turn, before reading any further (which, for a
            // key that is not there, means reading to a container and beyond): drop the
            // keys the body cannot hold at all.
            ruled_out = true;
            let (absent, first_use) = cannot_hold(body, scan.pending);
            scan.pending = scan.pending.without(absent);
            if scan.pending.is_empty() {
                return;
            }
            // The search found where the first pending key is used: when only flat
            // members come before it, the front steps over them to it. Any pending key
            // among them would have been found first, plainly (no backslash there).
            if let Front::At(at) = front {
                if first_use > at
                    && first_use < back.from
                    && body.get(at..first_use).is_some_and(flat_members)
                {
                    front = Front::At(first_use);
                }
            }
        }
        if !front_reading && !back.state.reads(front_reading) {
            break;
        }
    }
    // Then the middle, across containers, up to the members read from the back.
    if let Front::StoppedAt(mut at) = front {
        while let Step::Next(next) = scan.front_step(at, back.from, false) {
            at = next;
        }
    }
}

/// Where the read from the front is.
#[derive(Clone, Copy)]
enum Front {
    /// Reading members: the next one's key has its opening quote here.
    At(usize),
    /// Stopped before the member whose key's opening quote is here: the first whose
    /// value is a container (other than a wanted object, which is read). The read
    /// across containers resumes here.
    StoppedAt(usize),
    /// Stopped where the bytes stop fitting the grammar: nothing more is read from the
    /// front.
    Malformed,
}

impl Front {
    /// The lowest position the read from the back may take a member's key from: the
    /// front's next member (the back reads no member twice), or, once the front is
    /// malformed, anything after the object's `{` at `open`.
    fn limit(self, open: usize) -> usize {
        match self {
            Front::At(at) | Front::StoppedAt(at) => at,
            Front::Malformed => open + 1,
        }
    }
}

/// How reading one member from the front ended.
enum Step {
    /// Read: the next member's key has its opening quote here.
    Next(usize),
    /// The member's value is a container, left unread.
    Unread,
    /// Every wanted field decided, the object closed, or the members read from the back
    /// reached: nothing more to read.
    Finished,
    /// Where the bytes stop fitting the grammar.
    Malformed,
}

/// The read from the end of the object backwards.
struct Back {
    /// The object's `{`.
    open: usize,
    /// One past the last byte of the member about to be read.
    end: usize,
    /// The `,` before the earliest member read (the object's `{` if that was the first
    /// member); past the end of the body while none is.
    from: usize,
    state: BackState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BackState {
    /// Reading members.
    Open,
    /// The next member's value is a long string: read once the front stops.
    Long,
    /// A container, something other than a member, or the front's members reached.
    Stopped,
}

impl BackState {
    /// Whether the back reads its next member now: a long string at the back waits
    /// while the front still reads.
    fn reads(self, front_reading: bool) -> bool {
        match self {
            BackState::Open => true,
            BackState::Long => !front_reading,
            BackState::Stopped => false,
        }
    }
}

impl Back {
    /// The read from the back of the object whose `{` is at `open`: stopped at once when
    /// the body does not end with its `}` (trailing bytes, or a truncated body).
    fn of(body: &[u8], open: usize) -> Self {
        let low = open + 1;
        let close = rskip_ws(body, low, body.len()).saturating_sub(1);
        let closed = close >= low && body.get(close) == Some(&b'}');
        Back {
            open,
            end: close,
            from: usize::MAX,
            state: if closed {
                BackState::Open
            } else {
                BackState::Stopped
            },
        }
    }
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

/// The top-level keys that begin with `event` (`event_id`, `event`, `event_type`,
/// `event-data`), in [`OUTER`] order: Slack, Typeform and Paddle each want two of them,
/// found by one search.
const FAMILY_KEYS: [Key; 4] = {
    let mut keys = [Key(0); 4];
    let mut found = 0;
    let mut at = 0;
    while at < OUTER_COUNT {
        if begins_with(OUTER[at], "event") {
            // Fails to compile if more than four keys begin with `event`.
            keys[found] = Key(at);
            found += 1;
        }
        at += 1;
    }
    assert!(found == keys.len(), "every key that begins with `event`");
    keys
};

/// Whether `name` begins with `prefix`, for the constant tables.
const fn begins_with(name: &str, prefix: &str) -> bool {
    let (name, prefix) = (name.as_bytes(), prefix.as_bytes());
    if name.len() < prefix.len() {
        return false;
    }
    let mut at = 0;
    while at < prefix.len() {
        if name[at] != prefix[at] {
            return false;
        }
        at += 1;
    }
    true
}

/// The fields under [`FAMILY_KEYS`].
const EVENT_FAMILY: Wanted = {
    let mut fields = 0;
    let mut at = 0;
    while at < FAMILY_KEYS.len() {
        fields |= OUTER_FIELDS[FAMILY_KEYS[at].0].0;
        at += 1;
    }
    Wanted(fields)
};

/// What every key of [`FAMILY_KEYS`] begins with, quote included.
static EVENT_PREFIX: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"event"));

/// The `wanted` fields whose key appears nowhere in `body`, escaped or not, so no scan
/// can meet it, and where the first plain use of any other wanted key is (the quote
/// opening it; `usize::MAX` if none). A key's name is letters, `_` and `-`, so it is
/// either spelled plainly (quotes included, then a colon) or holds a `\u00XX` escape of
/// printable ASCII; a body with such an escape anywhere proves nothing. `memmem` reads a
/// kilobyte in tens of nanoseconds, several times faster than the scan.
fn cannot_hold(body: &[u8], wanted: Wanted) -> (Wanted, usize) {
    // A member's key is followed by its colon; Stripe's `"object": "event"` is not.
    let colon_after = |end: usize| body.get(skip_ws(body, end)) == Some(&b':');
    let used_as_key = |quoted: &memmem::Finder<'_>| {
        let after = quoted.needle().len();
        quoted.find_iter(body).find(|&at| colon_after(at + after))
    };
    let mut first_use = usize::MAX;
    let mut not_plain = Wanted(0);
    let family = Wanted(EVENT_FAMILY.0 & wanted.0);
    let searched_together = FAMILY_KEYS
        .iter()
        .filter(|key| key.fields().has(family))
        .count()
        > 1;
    if searched_together {
        // One search for `"event`, each hit told apart by what follows it.
        let mut used = Wanted(0);
        for at in EVENT_PREFIX.find_iter(body) {
            let rest = at + EVENT_PREFIX.needle().len();
            for key in FAMILY_KEYS {
                let suffix = OUTER
                    .get(key.0)
                    .and_then(|name| name.as_bytes().get("event".len()..))
                    .unwrap_or_default();
                let end = rest + suffix.len();
                if body.get(rest..end) == Some(suffix)
                    && body.get(end) == Some(&b'"')
                    && colon_after(end + 1)
                {
                    first_use = first_use.min(at);
                    used = used.and(key.fields());
                }
            }
            if family.without(used).is_empty() {
                break;
            }
        }
        not_plain = family.without(used);
    }
    for (fields, quoted) in QUOTED_KEYS.iter() {
        let under = Wanted(fields.0 & wanted.0);
        let done = searched_together && under.has(EVENT_FAMILY);
        if !done && !under.is_empty() {
            match used_as_key(quoted) {
                Some(at) => first_use = first_use.min(at),
                None => not_plain = not_plain.and(under),
            }
        }
    }
    // Plain keys are usually found near the front; only when one is not is the whole
    // body searched for escapes.
    if not_plain.is_empty() {
        return (not_plain, first_use);
    }
    let absent = if escapes_printable_ascii(body) {
        Wanted(0)
    } else {
        not_plain
    };
    (absent, first_use)
}

/// Whether `between`, which starts at a member's key at the top level, holds only
/// whole members whose values are strings, numbers or literals: no bracket, no
/// backslash, and an even number of quotes, so the quote after it is outside every
/// string and opens a key of the same object. One pass without an exit per byte, so it
/// is compiled to vector code.
fn flat_members(between: &[u8]) -> bool {
    let (quotes, structural) = between
        .iter()
        .fold((0u32, false), |(quotes, structural), &b| {
            (
                quotes + u32::from(b == b'"'),
                structural | matches!(b, b'{' | b'[' | b'}' | b']' | b'\\'),
            )
        });
    !structural && quotes.is_multiple_of(2)
}

struct Scan<'a, 's> {
    body: &'a [u8],
    /// Wanted fields whose key has not been met yet.
    pending: Wanted,
    /// The field each position of `found` holds.
    slots: &'s [Wanted],
    found: &'s mut [Option<Cow<'a, str>>],
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

impl<'a> Scan<'a, '_> {
    /// The field `raw_key` names, if it is wanted and not decided yet.
    fn pending_key(&self, raw_key: &[u8]) -> Option<Key> {
        let key = match Key::named(raw_key) {
            Some(key) => key,
            // Only an escaped key (`"\u0069d"`) can still name a field once decoded.
            // `contains`, not `memchr`: a key is a few bytes, which `memchr`'s call costs
            // more than reading.
            None if raw_key.contains(&b'\\') => Key::named(decode(raw_key)?.as_bytes())?,
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
            let slot = self.slots.iter().position(|slot| slot.0 == 1 << bit);
            if let Some(slot) = slot.and_then(|at| self.found.get_mut(at)) {
                *slot = found;
            }
        }
        self.pending = self.pending.without(under);
    }

    /// Decides `key` from a value that is not an object holding its fields.
    fn decide_value(&mut self, key: Key, value: Value<'a>) {
        self.decide_with(key, value, |_| None);
    }

    /// Reads the member whose key's opening quote is at `at`, and its field if pending,
    /// unless the members read from the back begin at or before it (the `,` at
    /// `back_from`). A container value is skipped, or with `leading_only` left unread
    /// (but for an object holding wanted fields: `event`, `signature`, `event-data`,
    /// which is read).
    fn front_step(&mut self, at: usize, back_from: usize, leading_only: bool) -> Step {
        let body = self.body;
        if back_from <= at {
            // Every member left was read from the back.
            return Step::Finished;
        }
        let value_end = match self.member(at, leading_only) {
            Some(Member::Read(value_end)) => value_end,
            Some(Member::Unread) if self.pending.is_empty() => return Step::Finished,
            Some(Member::Unread) => return Step::Unread,
            None => return Step::Malformed,
        };
        if self.pending.is_empty() {
            return Step::Finished;
        }
        let after = skip_ws(body, value_end);
        match body.get(after) {
            // The members read from the back begin here.
            Some(b',') if after >= back_from => Step::Finished,
            Some(b',') => {
                let next = skip_ws(body, after + 1);
                if body.get(next) == Some(&b'"') {
                    Step::Next(next)
                } else {
                    Step::Malformed
                }
            }
            Some(b'}') => Step::Finished,
            _ => Step::Malformed,
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
                None if raw_key.contains(&b'\\') => {
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

    /// Reads the member that ends the unread part of the object, backwards, and its
    /// field if pending; stops `back` at a container, at anything but a whole
    /// `, "key": value` member, at the object's first member, or at a member whose key
    /// opens before `limit` (the front's). With `short_only`, a string value whose
    /// opening quote is not within a few words of its end is left for later
    /// ([`BackState::Long`]).
    fn back_step(&mut self, back: &mut Back, limit: usize, short_only: bool) {
        back.state = match self.back_member(back, limit, short_only) {
            Some(BackMember::Read { separator, first }) => {
                back.from = separator;
                back.end = separator;
                if first {
                    BackState::Stopped
                } else {
                    BackState::Open
                }
            }
            Some(BackMember::Long) => BackState::Long,
            None => BackState::Stopped,
        };
    }

    /// [`Self::back_step`]'s member, ending just before `end`; `None` where the read
    /// from the back stops.
    fn back_member(&mut self, back: &Back, limit: usize, short_only: bool) -> Option<BackMember> {
        let body = self.body;
        let value_end = rskip_ws(body, limit, back.end);
        let last = value_end.checked_sub(1).filter(|last| *last >= limit)?;
        let (value, value_start) = match body.get(last)? {
            b'"' => {
                let near = last.saturating_sub(SHORT).max(limit);
                if short_only && last_quote(body.get(near..last)?).is_none() {
                    return Some(BackMember::Long);
                }
                let open = string_start_back(body, limit, last)?;
                (Value::String(body.get(open + 1..last)?), open)
            }
            // A container: left to the front's read across containers.
            b'}' | b']' => return None,
            _ => {
                let start = scalar_start_back(body, limit, value_end)?;
                (Value::Scalar(body.get(start..value_end)?), start)
            }
        };
        let colon = rskip_ws(body, limit, value_start).checked_sub(1)?;
        if colon < limit || body.get(colon) != Some(&b':') {
            return None;
        }
        let key_close = rskip_ws(body, limit, colon).checked_sub(1)?;
        if key_close < limit || body.get(key_close) != Some(&b'"') {
            return None;
        }
        let key_open = string_start_back(body, limit, key_close)?;
        let separator = rskip_ws(body, back.open + 1, key_open).checked_sub(1)?;
        // Only whitespace between the object's `{` and this key: the first member.
        let first = separator == back.open;
        if !first && body.get(separator) != Some(&b',') {
            return None;
        }
        if let Some(key) = body
            .get(key_open + 1..key_close)
            .and_then(|raw_key| self.pending_key(raw_key))
        {
            self.decide_value(key, value);
        }
        Some(BackMember::Read { separator, first })
    }
}

/// What [`Scan::back_member`] met.
enum BackMember {
    /// A member, read; its `,` (or the object's `{`, for the `first` member) is here.
    Read { separator: usize, first: bool },
    /// A string value too long to read while the front still reads.
    Long,
}

#[cfg(test)]
mod tests;
