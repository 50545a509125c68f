//! The JSON lexing the body scan is built from: whitespace, strings (forwards and
//! backwards), numbers and literals, containers, and string decoding exactly as
//! `serde_json` decodes. Positions are byte offsets into the body; nothing allocates
//! except a decoded string that holds escapes.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memrchr};

use super::bytemask;

/// JSON's whitespace (RFC 8259 §2); serde_json accepts exactly these.
pub(super) fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The first non-whitespace position at or after `at` (or `body.len()`).
pub(super) fn skip_ws(body: &[u8], mut at: usize) -> usize {
    // Compact JSON has none: one test for the usual case.
    if body.get(at).is_some_and(|b| *b > b' ') {
        return at;
    }
    while body.get(at).is_some_and(|b| is_ws(*b)) {
        at += 1;
    }
    at
}

/// Moving back from `end` (exclusive), the position just after the last non-whitespace
/// byte, not below `low`.
pub(super) fn rskip_ws(body: &[u8], low: usize, mut end: usize) -> usize {
    while end > low && body.get(end - 1).is_some_and(|b| is_ws(*b)) {
        end -= 1;
    }
    end
}

/// The string whose opening quote is at `open`: its raw bytes and the position after
/// its closing quote. `None` if it never closes.
pub(super) fn string_at(body: &[u8], open: usize) -> Option<(&[u8], usize)> {
    let close = string_close(body, open + 1)?;
    Some((body.get(open + 1..close)?, close + 1))
}

/// The closing quote of a string whose contents start at `from`. A backslash escapes
/// the byte after it, which covers `\"` and `\\` (a `\u` escape's hex digits are never
/// `"` or `\` in valid JSON).
pub(super) fn string_close(body: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let found = from + quote_or_backslash(body.get(from..)?)?;
        if body.get(found) == Some(&b'"') {
            return Some(found);
        }
        from = found + 2;
    }
}

/// How many bytes [`quote_or_backslash`] and [`last_quote`] read 16 at a time before
/// they call `memchr2` or `memrchr`; a string no longer is short.
pub(super) const SHORT: usize = 32;

/// The first `"` or `\` in `bytes`. Keys, ids and event names are short, and a call to
/// `memchr2` costs as much as reading a few dozen bytes 16 at a time: the first
/// [`SHORT`] bytes are read here, and only a longer string is searched with `memchr2`.
pub(super) fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 16) {
        if at == SHORT {
            return memchr2(b'"', b'\\', bytes.get(at..)?).map(|found| at + found);
        }
        let hits = bytemask::equal_either(chunk.try_into().ok()?, b'"', b'\\');
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize);
        }
        at += 16;
    }
    let rest = bytes.get(at..)?;
    rest.iter()
        .position(|b| matches!(b, b'"' | b'\\'))
        .map(|found| at + found)
}

/// Whether `body` holds a backslash followed by `u00` and a digit from 2 to 7: the
/// start of a `\u` escape of a printable ASCII character, which may spell a key. The
/// first backslash is found with `memchr` (most bodies hold none). After it, escaped
/// text holds a few backslashes to a line, and a `memchr` call per backslash costs more
/// than reading the bytes between: the rest is read 64 bytes a step, a step without a
/// backslash skipped with one test, and the backslashes of the others found 16 bytes a
/// compare.
pub(super) fn escapes_printable_ascii(body: &[u8]) -> bool {
    let spells = |at: usize| {
        body.get(at + 1..at + 4) == Some(b"u00") && matches!(body.get(at + 4), Some(b'2'..=b'7'))
    };
    // Bit `i` of `backslashes` marks one at `start + i`.
    let any_spells = |start: usize, mut backslashes: u32| {
        while backslashes != 0 {
            if spells(start + backslashes.trailing_zeros() as usize) {
                return true;
            }
            backslashes &= backslashes - 1;
        }
        false
    };
    let Some(mut from) = memchr(b'\\', body) else {
        return false;
    };
    while let Some(block) = body.get(from..).and_then(<[u8]>::first_chunk::<64>) {
        if bytemask::any_equal(block, b'\\') {
            let (chunks, _) = block.as_chunks::<16>();
            for (index, chunk) in chunks.iter().enumerate() {
                if any_spells(from + 16 * index, bytemask::equal(chunk, b'\\')) {
                    return true;
                }
            }
        }
        from += 64;
    }
    while let Some(chunk) = body.get(from..).and_then(<[u8]>::first_chunk::<16>) {
        if any_spells(from, bytemask::equal(chunk, b'\\')) {
            return true;
        }
        from += 16;
    }
    // Fewer than 16 bytes are left: the body's last 16 are read, less the 1 to 16 of them
    // read above.
    match body.last_chunk::<16>() {
        Some(chunk) => {
            let last = body.len() - 16;
            let unread = u32::MAX << (from - last);
            any_spells(last, bytemask::equal(chunk, b'\\') & unread)
        }
        None => (from..body.len()).any(|at| body.get(at) == Some(&b'\\') && spells(at)),
    }
}

/// The opening quote of the string whose closing quote is at `close`, searching no
/// lower than `low`. A quote is a string's opening one when an even number of
/// backslashes precede it (inside a valid string every `"` is escaped by an odd run).
pub(super) fn string_start_back(body: &[u8], low: usize, close: usize) -> Option<usize> {
    let mut end = close;
    loop {
        let quote = low + last_quote(body.get(low..end)?)?;
        let mut run_start = quote;
        while run_start > low && body.get(run_start - 1) == Some(&b'\\') {
            run_start -= 1;
        }
        if (quote - run_start).is_multiple_of(2) {
            return Some(quote);
        }
        // An escaped quote: the backslashes before it hold no quote, search below them.
        end = run_start;
    }
}

/// The last `"` in `bytes`. Searching back from a string's closing quote, the opening
/// one is usually a few bytes away: the last [`SHORT`] bytes are read here 16 at a time,
/// and only a longer string is searched with `memrchr`.
pub(super) fn last_quote(bytes: &[u8]) -> Option<usize> {
    let mut end = bytes.len();
    while end >= 16 && bytes.len() - end < SHORT {
        let hits = bytemask::equal(bytes.get(end - 16..end)?.try_into().ok()?, b'"');
        if hits != 0 {
            // Bit 15 is the chunk's last byte.
            return Some(end - 1 - (hits.leading_zeros() - 16) as usize);
        }
        end -= 16;
    }
    let rest = bytes.get(..end)?;
    if rest.len() < 16 {
        return rest.iter().rposition(|b| *b == b'"');
    }
    memrchr(b'"', rest)
}

/// The end of the number or literal starting at `start`: the next `,`, `}`, `]` or
/// whitespace. `None` for an empty one (`{"a":}`) or one running to the end of the body.
pub(super) fn scalar_end(body: &[u8], start: usize) -> Option<usize> {
    let rest = body.get(start..)?;
    let len = rest.iter().position(|b| ENDS_SCALAR[usize::from(*b)])?;
    (len > 0).then_some(start + len)
}

/// The bytes that end a number or literal: `,`, `}`, `]` and whitespace. A table, as
/// a digit then costs one load and one test.
static ENDS_SCALAR: [bool; 256] = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'}' as usize] = true;
    table[b']' as usize] = true;
    table[b' ' as usize] = true;
    table[b'\t' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table
};

/// The start of the number or literal ending just before `end`, not below `low`.
pub(super) fn scalar_start_back(body: &[u8], low: usize, end: usize) -> Option<usize> {
    let mut start = end;
    while start > low
        && body
            .get(start - 1)
            .is_some_and(|b| !matches!(b, b':' | b',' | b'{' | b'[' | b'"') && !is_ws(*b))
    {
        start -= 1;
    }
    (start < end).then_some(start)
}

/// The position after the container (object or array) whose opening bracket is at
/// `open`, found by counting brackets outside strings; `None` if it never closes.
/// Brackets are not matched by kind: only valid JSON needs an exact answer.
pub(super) fn container_end(body: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = open;
    while let Some(byte) = body.get(at) {
        match byte {
            b'"' => {
                at = string_close(body, at + 1)? + 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                // `depth` is at least 1 here: the first byte is the opening bracket.
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// A member's key (raw, between its quotes, the opening one at `open`) and where its
/// value starts after the `:`.
pub(super) fn key_and_colon(body: &[u8], open: usize) -> Option<(&[u8], usize)> {
    let (key, after) = string_at(body, open)?;
    let colon = skip_ws(body, after);
    (body.get(colon) == Some(&b':')).then(|| (key, skip_ws(body, colon + 1)))
}

/// A string's raw contents decoded as serde_json decodes them, or `None` where
/// serde_json would refuse them: a raw control character, an unknown escape, a bad or
/// lone-surrogate `\u` escape, invalid UTF-8.
pub(super) fn decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    if plain_text(raw) {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    if raw.iter().any(|b| *b < 0x20) {
        return None;
    }
    let Some(first_escape) = memchr(b'\\', raw) else {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    };
    let (plain, mut rest) = raw.split_at(first_escape);
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(plain);
    // `rest` starts at a backslash on every turn.
    while let Some((_, after_backslash)) = rest.split_first() {
        let (escape, after) = after_backslash.split_first()?;
        rest = after;
        match escape {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let (ch, after) = unicode_escape(rest)?;
                rest = after;
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => return None,
        }
        let next = memchr(b'\\', rest).unwrap_or(rest.len());
        let (plain, escaped) = rest.split_at(next);
        out.extend_from_slice(plain);
        rest = escaped;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Whether `raw` is all printable ASCII other than the backslash, as ids and event names
/// are: 16 bytes a compare, the last 16 overlapping those before them. A shorter string
/// is copied into 16 printable bytes, which costs less than a test per byte.
fn plain_text(raw: &[u8]) -> bool {
    let plain = |chunk: &[u8; 16]| bytemask::plain_text(chunk) == 0xffff;
    let (chunks, rest) = raw.as_chunks::<16>();
    if !chunks.iter().all(plain) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    match raw.last_chunk::<16>() {
        Some(last) => plain(last),
        None => {
            let mut padded = [b'a'; 16];
            if let Some(head) = padded.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            plain(&padded)
        }
    }
}

/// The character of a `\u` escape whose four hex digits start `rest` (and, for a high
/// surrogate, the `\uXXXX` low surrogate that must follow), and what follows it.
pub(super) fn unicode_escape(rest: &[u8]) -> Option<(char, &[u8])> {
    let (high, rest) = hex4(rest)?;
    match high {
        0xD800..=0xDBFF => {
            let rest = rest.strip_prefix(b"\\u")?;
            let (low, rest) = hex4(rest)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let code = 0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(code)?, rest))
        }
        // A lone low surrogate is no character.
        _ => Some((char::from_u32(high)?, rest)),
    }
}

pub(super) fn hex4(rest: &[u8]) -> Option<(u32, &[u8])> {
    let digits = rest.get(..4)?;
    let mut value = 0;
    for digit in digits {
        value = value * 16 + char::from(*digit).to_digit(16)?;
    }
    Some((value, rest.get(4..)?))
}
