//! A validating JSON scanner over borrowed text, made for untrusted
//! `config.data` files.
//!
//! `serde_json` keeps the first of two equal keys where Python keeps the last,
//! reports positions relative to the value it was given, and parses values
//! bouture only copies. This scanner reads the whole document once: every
//! value is checked against the JSON grammar (as strict as Python's `json`:
//! no control characters in strings, no `NaN`), every object is checked for
//! duplicate keys (compared after decoding escapes, as Python compares them),
//! the nesting depth is bounded, and errors carry the byte offset in the file
//! and the path of the value (`disks["…"].children[0]`). Callers pull the
//! members they need as borrowed slices and skip the rest.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use std::hash::Hasher as _;

use rustc_hash::{FxHashMap, FxHasher};

use crate::model::Str;

/// The deepest nesting accepted. Ganeti's objects are at most about ten
/// levels deep; Python's loader (`json`, then `FromDict` recursing into disk
/// children) fails past its recursion limit, far above this.
pub(crate) const MAX_DEPTH: usize = 64;

/// Objects with more members than this check duplicates with a hash map.
const LINEAR_KEYS: usize = 24;

/// An error found while scanning: where (byte offset) and what.
#[derive(Debug)]
pub(crate) struct ScanError {
    /// Byte offset in the scanned text.
    pub(crate) offset: usize,
    /// The path of the value concerned (`nodes["…"].name`), empty for the top level.
    pub(crate) path: String,
    /// What is wrong.
    pub(crate) message: String,
}

/// One step of the path to the current value: one per object or array
/// being read, naming its current member or element (or none, before the
/// first and between two), updated in place as the scanner moves on.
#[derive(Debug, Clone, Copy)]
enum Step<'t> {
    Key(&'t str),
    Index(usize),
    Between,
}

/// A string as it appears in the text (without its quotes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoted<'t> {
    raw: &'t str,
    /// Where `raw` starts in the text.
    start: usize,
    escaped: bool,
}

impl<'t> Quoted<'t> {
    /// The decoded string (borrowed when it has no escape, nearly always:
    /// inlined, that case costs a test).
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "called for every key; measured (callgrind) as cheap as a copy of its fast path"
    )]
    pub(crate) fn decode(self) -> Result<Cow<'t, str>, &'static str> {
        if self.escaped {
            unescape(self.raw).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(self.raw))
        }
    }

    /// The text between the quotes, escapes not decoded.
    pub(crate) fn raw(self) -> &'t str {
        self.raw
    }
}

fn unescape(raw: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let high = hex4(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if chars.next() != Some('\\') || chars.next() != Some('u') {
                        return Err("a lone UTF-16 surrogate in a \\u escape");
                    }
                    let low = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err("a lone UTF-16 surrogate in a \\u escape");
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                out.push(char::from_u32(code).ok_or("a lone UTF-16 surrogate in a \\u escape")?);
            }
            _ => return Err("an invalid escape"),
        }
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, &'static str> {
    let mut value = 0;
    for _ in 0..4 {
        let digit = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or("an invalid \\u escape")?;
        value = value * 16 + digit;
    }
    Ok(value)
}

/// Bytes that end the fast part of a string: quote, backslash, control characters.
fn is_string_stop(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The position of the first quote, backslash or control character at or
/// after `pos` (or the end of `bytes`), eight bytes at a time: for each
/// class a mask whose lowest set bit marks the first byte of that class in
/// the word (bits above it may be spurious, so only the lowest is used).
fn skip_plain(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(word) = bytes
        .get(pos..pos + 8)
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
        .map(u64::from_le_bytes)
    {
        let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let stops = quote | backslash | control;
        if stops != 0 {
            return pos + (stops.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if is_string_stop(b) {
            break;
        }
        pos += 1;
    }
    pos
}

/// A 64-bit fingerprint of a decoded key.
fn fingerprint(key: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(key.as_bytes());
    hasher.finish()
}

/// Add a key to the index of a large object; a key whose fingerprint
/// another key already has goes to `spill` (both are kept).
fn remember(
    map: &mut FxHashMap<u64, usize>,
    spill: &mut Vec<(u64, usize)>,
    print: u64,
    offset: usize,
) {
    if let Some(other) = map.insert(print, offset) {
        map.insert(print, other);
        spill.push((print, offset));
    }
}

/// The scanner: a position in the text and the path to the current value.
pub(crate) struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    depth: usize,
    path: Vec<Step<'t>>,
    /// Keys of the objects being read (fingerprint, offset), a stack shared by nested objects.
    keys: Vec<(u64, usize)>,
    /// The decoded text of the strings read with [`Scanner::str`] that have
    /// escapes (see [`Str`]); starts with one unused byte, so that no
    /// string starts at 0.
    decoded: String,
}

/// The result of a scanner step. The error is boxed: it is rare, and a
/// small `Result` is returned in registers on the hot path.
pub(crate) type Scan<T> = Result<T, Box<ScanError>>;

impl<'t> Scanner<'t> {
    /// A scanner at the start of `text`.
    pub(crate) fn new(text: &'t str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            path: Vec::with_capacity(MAX_DEPTH),
            keys: Vec::with_capacity(256),
            decoded: String::new(),
        }
    }

    /// The decoded strings of the [`Str`]s read so far (see [`Str::resolve`]).
    pub(crate) fn into_decoded(self) -> String {
        self.decoded
    }

    /// The text of a [`Str`] read by this scanner.
    pub(crate) fn resolve(&self, value: Str) -> &str {
        value.resolve(self.text, &self.decoded)
    }

    /// Keep a copy of `value` (a decoded key, say) as a [`Str`] of the
    /// decoded strings.
    pub(crate) fn store(&mut self, value: &str) -> Scan<Str> {
        if self.decoded.is_empty() {
            self.decoded.push('\0');
        }
        let start = self.decoded.len();
        self.decoded.push_str(value);
        Str::decoded(start, value.len())
            .ok_or_else(|| self.error("the decoded strings of this file exceed 2 GiB"))
    }

    /// Read a string as a [`Str`]: its place in the text, or, when it has
    /// escapes, its decoded text kept aside.
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "called for every string value the model reads; measured with callgrind (issue 21)"
    )]
    pub(crate) fn str(&mut self) -> Scan<Str> {
        let offset = self.offset();
        let value = self.string()?;
        if value.escaped {
            let decoded = value
                .decode()
                .map_err(|problem| self.error_at(offset, format!("{problem} in a string")))?;
            self.store(&decoded)
        } else {
            Str::in_text(value.start, value.raw.len())
                .ok_or_else(|| self.error_at(offset, "a string beyond 2 GiB in the file"))
        }
    }

    /// Read a string as a [`Str`], or `null`.
    pub(crate) fn opt_str(&mut self) -> Scan<Option<Str>> {
        self.string_or_null(Self::str)
    }

    /// Name the current member or element of the innermost object or array.
    fn step(&mut self, step: Step<'t>) {
        if let Some(top) = self.path.last_mut() {
            *top = step;
        }
    }

    /// The current byte offset.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// The path of the current value, for messages.
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.path.iter().enumerate() {
            match step {
                Step::Key(key)
                    if !key.is_empty()
                        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Step::Key(key) => {
                    let _ = write!(out, "[\"{key}\"]");
                }
                Step::Index(index) => {
                    let _ = write!(out, "[{index}]");
                }
                Step::Between => {}
            }
        }
        out
    }

    /// An error at `offset` about the current value.
    #[cold]
    #[allow(
        clippy::unnecessary_box_returns,
        reason = "boxed so that every Scan<T> stays small on the hot path"
    )]
    pub(crate) fn error_at(&self, offset: usize, message: impl Into<String>) -> Box<ScanError> {
        Box::new(ScanError {
            offset,
            path: self.path(),
            message: message.into(),
        })
    }

    #[cold]
    #[allow(clippy::unnecessary_box_returns, reason = "as error_at")]
    fn error(&self, message: impl Into<String>) -> Box<ScanError> {
        self.error_at(self.pos, message)
    }

    #[cold]
    #[allow(clippy::unnecessary_box_returns, reason = "as error_at")]
    fn unexpected(&self, expected: &str) -> Box<ScanError> {
        match self.bytes.get(self.pos) {
            None => self.error(format!("the file ends where {expected} was expected")),
            Some(&b) if b.is_ascii_graphic() => self.error(format!(
                "'{}' found where {expected} was expected",
                b as char
            )),
            Some(b) => self.error(format!(
                "byte 0x{b:02x} found where {expected} was expected"
            )),
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        // Compact files (Ganeti writes them so) have no white space between
        // tokens: one test then.
        if self.bytes.get(self.pos).is_some_and(|&b| b <= b' ') {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
        }
    }

    /// Whether the next value starts with `byte`.
    pub(crate) fn peek_is(&mut self, byte: u8) -> bool {
        self.peek() == Some(byte)
    }

    /// Whether the next value starts with a digit.
    pub(crate) fn peek_is_digit(&mut self) -> bool {
        self.peek().is_some_and(|b| b.is_ascii_digit())
    }

    /// The text of a span (of a value read before).
    pub(crate) fn text_at(&self, span: Range<usize>) -> &'t str {
        self.text.get(span).unwrap_or_default()
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8, expected: &str) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Check that only white space is left.
    pub(crate) fn end(&mut self) -> Scan<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the file")),
        }
    }

    fn enter(&mut self) -> Scan<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!(
                "nested more than {MAX_DEPTH} levels deep; Ganeti's loader cannot read such a file"
            )));
        }
        Ok(())
    }

    /// Read a string.
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "as string_here, which it wraps; measured with callgrind (issue 21)"
    )]
    pub(crate) fn string(&mut self) -> Scan<Quoted<'t>> {
        self.skip_ws();
        self.string_here()
    }

    /// [`Scanner::string`], white space already skipped.
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "every key and string value; measured with callgrind (issue 21)"
    )]
    fn string_here(&mut self) -> Scan<Quoted<'t>> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = skip_plain(self.bytes, self.pos);
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    let raw = self.text.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return Ok(Quoted {
                        raw,
                        start,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.bytes.get(self.pos) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            let digits = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("an invalid \\u escape in a string"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.error("an invalid escape in a string")),
                    }
                }
                Some(_) => {
                    return Err(
                        self.error("a control character in a string (Python's json refuses it)")
                    );
                }
                None => return Err(self.error_at(start - 1, "a string that is never closed")),
            }
        }
    }

    /// Read a string and decode it.
    pub(crate) fn text(&mut self) -> Scan<Cow<'t, str>> {
        let start = self.offset();
        let value = self.string()?;
        value
            .decode()
            .map_err(|problem| self.error_at(start, format!("{problem} in a string")))
    }

    /// Read a string with `read`, or `null`.
    fn string_or_null<T>(&mut self, read: impl FnOnce(&mut Self) -> Scan<T>) -> Scan<Option<T>> {
        match self.peek() {
            Some(b'n') => self.literal().map(|()| None),
            Some(b'"') => read(self).map(Some),
            _ => Err(self.unexpected("a string or null")),
        }
    }

    /// Read a string or `null`.
    pub(crate) fn opt_text(&mut self) -> Scan<Option<Cow<'t, str>>> {
        self.string_or_null(Self::text)
    }

    /// Read a non-negative integer that fits 64 bits.
    pub(crate) fn u64(&mut self) -> Scan<u64> {
        let start = self.offset();
        let span = self.number()?;
        self.text
            .get(span)
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| self.error_at(start, "a non-negative integer was expected"))
    }

    /// Read a non-negative integer or `null`.
    pub(crate) fn opt_u64(&mut self) -> Scan<Option<u64>> {
        if self.peek() == Some(b'n') {
            self.literal()?;
            return Ok(None);
        }
        self.u64().map(Some)
    }

    fn literal(&mut self) -> Scan<()> {
        self.skip_ws();
        for word in [&b"true"[..], b"false", b"null"] {
            if self
                .bytes
                .get(self.pos..)
                .is_some_and(|rest| rest.starts_with(word))
            {
                self.pos += word.len();
                return Ok(());
            }
        }
        Err(self.unexpected("a JSON value"))
    }

    /// Read a number (JSON grammar), returning its span.
    fn number(&mut self) -> Scan<Range<usize>> {
        self.skip_ws();
        self.number_here()
    }

    /// [`Scanner::number`], white space already skipped.
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "called for every number; measured with callgrind (issue 21)"
    )]
    fn number_here(&mut self) -> Scan<Range<usize>> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.unexpected("a number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.unexpected("a digit"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.unexpected("a digit"));
            }
            self.digits();
        }
        Ok(start..self.pos)
    }

    fn digits(&mut self) {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        self.pos += rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
    }

    /// Read a value with `read`, returning it and the value's span.
    pub(crate) fn spanned<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Scan<T>,
    ) -> Scan<(T, Range<usize>)> {
        self.skip_ws();
        let start = self.pos;
        let value = read(self)?;
        Ok((value, start..self.pos))
    }

    /// Read any value, checking it whole; returns its span. Strings and
    /// numbers, most of the values skipped, are read here, inlined; the
    /// rest by [`Scanner::any_value`].
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        reason = "most members' values are skipped through it; measured with callgrind (issue 21)"
    )]
    pub(crate) fn value(&mut self) -> Scan<Range<usize>> {
        self.skip_ws();
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'"') => {
                self.string_here()?;
                Ok(start..self.pos)
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number_here()?;
                Ok(start..self.pos)
            }
            _ => self.any_value(),
        }
    }

    /// [`Scanner::value`] for any value.
    fn any_value(&mut self) -> Scan<Range<usize>> {
        let start = match self.peek() {
            Some(_) => self.pos,
            None => return Err(self.unexpected("a JSON value")),
        };
        match self.bytes.get(self.pos) {
            Some(b'{') => {
                self.object(|scanner, _| scanner.value().map(drop))?;
            }
            Some(b'[') => {
                self.array(|scanner, _| scanner.value().map(drop))?;
            }
            Some(b'"') => {
                self.string_here()?;
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number_here()?;
            }
            _ => self.literal()?,
        }
        Ok(start..self.pos)
    }

    /// The decoded key (or string) that starts at byte `offset`.
    fn key_at(&self, offset: usize) -> Option<Cow<'t, str>> {
        let mut scanner = Scanner {
            text: self.text,
            bytes: self.bytes,
            pos: offset,
            depth: 0,
            path: Vec::new(),
            keys: Vec::new(),
            decoded: String::new(),
        };
        scanner.string().ok()?.decode().ok()
    }

    /// Whether `key` (fingerprint `print`) was seen before in this object:
    /// the offset of its first occurrence. `index` holds the keys once the
    /// object has more than [`LINEAR_KEYS`] of them, `spill` the rare keys
    /// whose fingerprint equals another key's.
    fn seen(
        &self,
        base: usize,
        index: Option<&FxHashMap<u64, usize>>,
        spill: &[(u64, usize)],
        print: u64,
        key: &str,
    ) -> Option<usize> {
        let same = |&(p, offset): &(u64, usize)| {
            (p == print && self.key_at(offset).as_deref() == Some(key)).then_some(offset)
        };
        match index {
            Some(map) => map
                .get(&print)
                .and_then(|&offset| same(&(print, offset)))
                .or_else(|| spill.iter().find_map(same)),
            None => self.keys.get(base..)?.iter().find_map(same),
        }
    }

    /// Read an object; `member` is called with each key and must read its
    /// value. Duplicate keys are refused. Returns the object's span.
    ///
    /// Keys are compared by a 64-bit fingerprint of their decoded text (and
    /// by their text when fingerprints are equal), through a 128-bit filter
    /// in small objects and a hash map in large ones, so the check costs a
    /// few instructions per key.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &str) -> Scan<()>,
    ) -> Scan<Range<usize>> {
        self.skip_ws();
        let start = self.pos;
        if self.bytes.get(self.pos) != Some(&b'{') {
            return Err(self.unexpected("an object"));
        }
        self.pos += 1;
        self.enter()?;
        self.path.push(Step::Between);
        let base = self.keys.len();
        let mut filter = 0u128;
        let mut index: Option<FxHashMap<u64, usize>> = None;
        let mut spill: Vec<(u64, usize)> = Vec::new();
        let result = (|| {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            loop {
                self.skip_ws();
                let key_offset = self.offset();
                let key = self.string_here()?;
                self.step(Step::Key(key.raw()));
                let decoded = key
                    .decode()
                    .map_err(|problem| self.error_at(key_offset, format!("{problem} in a key")))?;
                let print = fingerprint(&decoded);
                let bit = 1u128 << (print >> 57);
                let first = if index.is_none() && filter & bit == 0 {
                    None
                } else {
                    self.seen(base, index.as_ref(), &spill, print, &decoded)
                };
                if let Some(first) = first {
                    let (line, column) = line_column(self.text, first);
                    let decoded = decoded.escape_debug();
                    return Err(self.error_at(
                        key_offset,
                        format!(
                            "the key \"{decoded}\" appears twice (first at line {line} column {column}); \
                             Python keeps the last and serde the first, so bouture refuses duplicate keys"
                        ),
                    ));
                }
                if let Some(map) = &mut index {
                    remember(map, &mut spill, print, key_offset);
                } else {
                    filter |= bit;
                    self.keys.push((print, key_offset));
                    if self.keys.len() - base > LINEAR_KEYS {
                        let mut map = FxHashMap::default();
                        map.reserve(1024);
                        for (print, offset) in self.keys.drain(base..) {
                            remember(&mut map, &mut spill, print, offset);
                        }
                        index = Some(map);
                    }
                }
                self.eat(b':', "':'")?;
                member(self, &decoded)?;
                self.step(Step::Between);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(());
                    }
                    _ => return Err(self.unexpected("',' or '}'")),
                }
            }
        })();
        self.keys.truncate(base);
        result?;
        self.path.pop();
        self.depth -= 1;
        Ok(start..self.pos)
    }

    /// Read an array; `element` is called with each index and must read the
    /// element. Returns the array's span.
    pub(crate) fn array(
        &mut self,
        mut element: impl FnMut(&mut Self, usize) -> Scan<()>,
    ) -> Scan<Range<usize>> {
        self.skip_ws();
        let start = self.pos;
        if self.bytes.get(self.pos) != Some(&b'[') {
            return Err(self.unexpected("an array"));
        }
        self.pos += 1;
        self.enter()?;
        self.path.push(Step::Between);
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            let mut index = 0;
            loop {
                self.step(Step::Index(index));
                element(self, index)?;
                self.step(Step::Between);
                index += 1;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or ']'")),
                }
            }
        }
        self.path.pop();
        self.depth -= 1;
        Ok(start..self.pos)
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), String> {
        let mut scanner = Scanner::new(text);
        scanner.value().and_then(|_| scanner.end()).map_err(|e| {
            let (line, column) = line_column(text, e.offset);
            format!("{line}:{column} {}: {}", e.path, e.message)
        })
    }

    #[test]
    fn accepts_json() {
        for ok in [
            "{}",
            " [1, -2.5e3, 0, true, false, null, \"a\\u00e9\\n\"] ",
            r#"{"a": {"b": [{"c": "d"}]}, "e": "\ud83d\ude00"}"#,
        ] {
            check(ok).unwrap();
        }
    }

    #[test]
    fn refuses_what_python_refuses_or_reads_differently() {
        for (bad, expected) in [
            (
                r#"{"a": 1, "a": 2}"#,
                "1:10 a: the key \"a\" appears twice (first at line 1 column 2)",
            ),
            (
                r#"{"x": {"aA": 1, "a\u0041": 2}}"#,
                "1:17 x[\"a\\u0041\"]: the key \"aA\" appears twice (first at line 1 column 8)",
            ),
            ("{\"a\": 01}", "'1' found where ',' or '}' was expected"),
            ("{\"a\": NaN}", "'N' found where a JSON value was expected"),
            ("[\"a\tb\"]", "a control character"),
            ("{\"a\": 1}x", "'x' found where the end of the file"),
            ("\u{feff}{}", "byte 0xef found where a JSON value"),
            ("[\"\\ud800\"]", ""),
            ("{\"a\":", "the file ends where a JSON value was expected"),
        ] {
            match check(bad) {
                Ok(()) if bad.contains("ud800") => {}
                Ok(()) => panic!("{bad} accepted"),
                Err(message) => assert!(message.contains(expected), "{bad}: {message}"),
            }
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(check(&deep).unwrap_err().contains("nested more than 64"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        check(&ok).unwrap();
    }

    #[test]
    fn duplicates_in_large_objects_are_found() {
        let mut text = String::from("{");
        for i in 0..100 {
            let _ = write!(text, "\"k{i}\": {i}, ");
        }
        text.push_str("\"k7\": 0}");
        assert!(check(&text).unwrap_err().contains("\"k7\" appears twice"));
    }

    #[test]
    fn duplicates_in_large_objects_are_found_after_decoding() {
        let mut text = String::from("{");
        for i in 0..40 {
            let _ = write!(text, "\"k{i}\": {i}, ");
        }
        text.push_str("\"k\\u0033\": 0}");
        assert!(check(&text).unwrap_err().contains("\"k3\" appears twice"));
    }

    #[test]
    fn keys_with_equal_fingerprints_are_told_apart_by_their_text() {
        let text = r#"{"x": 1, "y": 2}"#;
        let scanner = Scanner::new(text);
        let (x, y) = (text.find("\"x").unwrap(), text.find("\"y").unwrap());
        let mut map = FxHashMap::default();
        let mut spill = Vec::new();
        // Pretend both keys have the fingerprint 7.
        remember(&mut map, &mut spill, 7, x);
        remember(&mut map, &mut spill, 7, y);
        assert_eq!(spill, vec![(7, y)]);
        assert_eq!(scanner.seen(0, Some(&map), &spill, 7, "x"), Some(x));
        assert_eq!(scanner.seen(0, Some(&map), &spill, 7, "y"), Some(y));
        assert_eq!(scanner.seen(0, Some(&map), &spill, 7, "z"), None);
        assert_eq!(scanner.seen(0, Some(&map), &spill, 8, "x"), None);
    }

    #[test]
    fn strings_of_any_length_end_at_their_quote() {
        for len in 0..40 {
            for stop in ["\"", "\\n\"", "\u{1}\""] {
                let body = "é".repeat(len / 2) + &"x".repeat(len % 2);
                let text = format!("\"{body}{stop}");
                let mut scanner = Scanner::new(&text);
                let result = scanner.string();
                if stop.starts_with('\u{1}') {
                    assert!(result.is_err(), "{text:?}");
                } else {
                    assert!(result.is_ok(), "{text:?}");
                    assert_eq!(scanner.offset(), text.len(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn the_word_scan_stops_where_the_byte_scan_does() {
        // Every stop byte (and a byte just above each class) at every
        // position of a 24-byte run, from every starting offset.
        let bytes_scan = |bytes: &[u8], pos: usize| {
            pos + bytes
                .get(pos..)
                .unwrap_or_default()
                .iter()
                .position(|&b| is_string_stop(b))
                .unwrap_or(bytes.len() - pos)
        };
        for special in [b'"', b'\\', 0x00, 0x1f, 0x20, b'#', b']', 0x7f, 0x80, 0xff] {
            for at in 0..24 {
                let mut bytes = vec![b'a'; 24];
                bytes[at] = special;
                for from in 0..24 {
                    assert_eq!(
                        skip_plain(&bytes, from),
                        bytes_scan(&bytes, from),
                        "byte {special:#x} at {at}, from {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(line_column("ab\ncé\nx", 6), (2, 3));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}
