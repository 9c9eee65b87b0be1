//! Masking inside JSON without rebuilding it: the body is walked token by token and copied,
//! string values are scanned by the detectors, values selected by a path rule are replaced
//! whole, and everything else (keys, numbers, spacing, member order) is kept byte for byte.
//! Valid JSON in gives valid JSON of the same structure out; anything else is refused
//! (`NotJson`) so the caller can scan it as text.

use crate::jsonpath::Segment;
use crate::profile::{Profile, Report};

/// The body is not valid JSON (or nests deeper than [`MAX_DEPTH`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 128;

/// The masked JSON document (`None`: nothing to mask). Only whitespace may follow the value.
pub fn mask(profile: &Profile, input: &[u8], report: &mut Report) -> Result<Option<Vec<u8>>, NotJson> {
    let mut walk = Walk { input, at: 0, out: Vec::new(), copied: 0, location: Vec::new(), profile, report, found: 0 };
    walk.value(0)?;
    walk.whitespace();
    if walk.at != input.len() {
        return Err(NotJson);
    }
    if walk.found == 0 {
        return Ok(None);
    }
    walk.flush(input.len());
    Ok(Some(walk.out))
}

struct Walk<'a, 'p, 'r> {
    input: &'a [u8],
    at: usize,
    /// Output so far: `input[..copied]` with replacements.
    out: Vec<u8>,
    copied: usize,
    location: Vec<Segment<'a>>,
    profile: &'p Profile,
    report: &'r mut Report,
    found: usize,
}

impl<'a> Walk<'a, '_, '_> {
    /// Copies the input up to `to` into the output (lazily: nothing is copied until the first
    /// replacement).
    fn flush(&mut self, to: usize) {
        if self.out.capacity() == 0 {
            self.out.reserve(self.input.len() + 64);
        }
        self.out.extend_from_slice(&self.input[self.copied..to]);
        self.copied = to;
    }

    /// Replaces `input[start..self.at]` with `replacement`.
    fn replace(&mut self, start: usize, replacement: &[u8]) {
        self.flush(start);
        self.out.extend_from_slice(replacement);
        self.copied = self.at;
        self.found += 1;
    }

    fn whitespace(&mut self) {
        while self.at < self.input.len() && matches!(self.input[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), NotJson> {
        if depth > MAX_DEPTH {
            return Err(NotJson);
        }
        self.whitespace();
        if let Some(rule) = self.profile.path_rule(&self.location) {
            let start = self.at;
            self.skip(depth)?;
            let raw = &self.input[start..self.at];
            let original = match raw.first() {
                Some(b'"') => serde_json::from_slice::<String>(raw).map_err(|_| NotJson)?.into_bytes(),
                _ => raw.to_vec(),
            };
            let masked = rule.strategy.apply(&rule.kind, &original, self.profile.key());
            let replacement = encode_string(&masked);
            self.report.found(&rule.kind, Some(crate::jsonpath::render(&self.location)));
            self.replace(start, &replacement);
            return Ok(());
        }
        match self.input.get(self.at) {
            Some(b'{' | b'[') => self.container(depth, false),
            Some(b'"') => self.string(true),
            _ => self.scalar(),
        }
    }

    /// Walks a value without scanning it (it is replaced whole).
    fn skip(&mut self, depth: usize) -> Result<(), NotJson> {
        match self.input.get(self.at) {
            Some(b'{') | Some(b'[') => {
                let saved = std::mem::take(&mut self.location);
                let found = self.found;
                let result = self.container(depth, true);
                self.location = saved;
                self.found = found;
                result
            }
            Some(b'"') => self.string(false),
            _ => self.scalar(),
        }
    }

    /// An object or array: each member walked in turn, its location pushed while it is. When
    /// `skipping` (under a path rule), nothing in it is scanned, reported or replaced.
    fn container(&mut self, depth: usize, skipping: bool) -> Result<(), NotJson> {
        let input = self.input;
        let object = input.get(self.at) == Some(&b'{');
        let close = if object { b'}' } else { b']' };
        self.at += 1;
        self.whitespace();
        if input.get(self.at) == Some(&close) {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            self.whitespace();
            let segment = if object {
                let key_start = self.at;
                self.string(false)?;
                let key = &input[key_start + 1..self.at - 1];
                self.whitespace();
                self.expect(b':')?;
                Segment::Key(key)
            } else {
                Segment::Index(index)
            };
            if skipping {
                self.whitespace();
                if depth + 1 > MAX_DEPTH {
                    return Err(NotJson);
                }
                self.skip(depth + 1)?;
            } else {
                self.location.push(segment);
                let result = self.value(depth + 1);
                self.location.pop();
                result?;
            }
            self.whitespace();
            match input.get(self.at) {
                Some(b',') => self.at += 1,
                Some(&b) if b == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
            index += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), NotJson> {
        if self.input.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// A string; scanned by the detectors when `scan`.
    fn string(&mut self, scan: bool) -> Result<(), NotJson> {
        let start = self.at;
        self.expect(b'"')?;
        let mut escaped = false;
        // From one quote or backslash to the next (memchr), checking the run between for
        // control characters; the character after a backslash is checked when decoding.
        loop {
            let rest = self.input.get(self.at..).unwrap_or_default();
            let Some(offset) = memchr::memchr2(b'"', b'\\', rest) else { return Err(NotJson) };
            if rest[..offset].iter().any(|&b| b < 0x20) {
                return Err(NotJson);
            }
            self.at += offset;
            if rest[offset] == b'"' {
                break;
            }
            escaped = true;
            self.at += 2;
        }
        self.at += 1;
        let raw = &self.input[start + 1..self.at - 1];
        if escaped {
            let decoded = serde_json::from_slice::<String>(&self.input[start..self.at]).map_err(|_| NotJson)?;
            if scan {
                if let Some(masked) = self.profile.mask_text(decoded.as_bytes(), self.report, Some(&self.location)) {
                    self.replace(start, &encode_string(&masked));
                }
            }
        } else {
            std::str::from_utf8(raw).map_err(|_| NotJson)?;
            if scan {
                if let Some(masked) = self.profile.mask_text(raw, self.report, Some(&self.location)) {
                    self.replace(start, &encode_string(&masked));
                }
            }
        }
        Ok(())
    }

    /// A number, `true`, `false` or `null`.
    fn scalar(&mut self) -> Result<(), NotJson> {
        let rest = &self.input[self.at..];
        for literal in [&b"true"[..], b"false", b"null"] {
            if rest.starts_with(literal) {
                self.at += literal.len();
                return Ok(());
            }
        }
        let len = number_length(rest).ok_or(NotJson)?;
        self.at += len;
        Ok(())
    }
}

/// Length of the JSON number at the start of `text` (RFC 8259 grammar).
fn number_length(text: &[u8]) -> Option<usize> {
    let mut i = usize::from(text.first() == Some(&b'-'));
    let digits = |from: usize| text[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    match text.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return None,
    }
    if text.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

/// `bytes` as a JSON string literal (invalid UTF-8 replaced, which masking never produces).
fn encode_string(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    serde_json::to_vec(text.as_ref()).unwrap_or_else(|_| b"\"\"".to_vec())
}

#[cfg(test)]
mod tests {
    use super::{mask, NotJson};
    use crate::config::{compile_profile, ProfileConfig};
    use crate::profile::Report;

    fn walk(json: &[u8]) -> Result<Option<Vec<u8>>, NotJson> {
        let profile = compile_profile("all", &serde_json::from_str::<ProfileConfig>("{}").unwrap(), None).unwrap();
        mask(&profile, json, &mut Report::default())
    }

    #[test]
    fn strings_end_at_the_first_unescaped_quote_and_refuse_control_characters() {
        assert_eq!(
            walk(br#"{"a": "x \" ada@example.com \\", "b": "\u00e9 caf\u00e9 ok"}"#).unwrap().unwrap(),
            br#"{"a": "x \" [EMAIL] \\", "b": "\u00e9 caf\u00e9 ok"}"#.to_vec()
        );
        assert_eq!(
            walk("{\"k\": \"grüße ada@example.com\"}".as_bytes()).unwrap().unwrap(),
            "{\"k\": \"grüße [EMAIL]\"}".as_bytes()
        );
        assert_eq!(walk(b"{\"k\": \"no value here\"}"), Ok(None));
        for refused in [
            &b"{\"k\": \"tab\there\"}"[..],
            b"{\"k\": \"open",
            b"{\"k\": \"ends in a backslash\\",
            b"{\"k\x01\": 1}",
            b"\"\\",
        ] {
            assert_eq!(walk(refused), Err(NotJson), "{}", String::from_utf8_lossy(refused));
        }
    }
}
