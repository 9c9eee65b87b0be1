//! All detectors of a profile compiled into one multi-pattern automaton (`regex-automata`'s
//! meta regex): a text is scanned once, whatever the number of detectors. A match that fails
//! its validator gives the other detectors their chance at the same position.

use crate::detectors::{value_start, Part};
use crate::validators::Validator;
use regex_automata::{meta, util::syntax, Anchored, Input, PatternID};
use regex_syntax::hir::{Class, Hir, HirKind};
use warden_kit::ConfigError;

/// One detector as the scanner runs it.
#[derive(Debug, Clone)]
pub struct Detector {
    /// Name (facts, placeholders, strategies).
    pub name: String,
    /// Pattern.
    pub pattern: String,
    /// Check a match must pass.
    pub validator: Option<Validator>,
    /// Part of the match that is masked.
    pub part: Part,
    /// Words of which one must appear within `context_window` bytes (custom detectors).
    pub context: Vec<String>,
    /// Bytes before and after a match searched for context words.
    pub context_window: usize,
    /// Shortest value accepted.
    pub min_length: usize,
}

/// A value found: detector index and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// Index of the detector.
    pub detector: usize,
    /// Start (inclusive).
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
}

/// The compiled detectors of a profile.
#[derive(Debug)]
pub struct Scanner {
    regex: Option<meta::Regex>,
    detectors: Vec<Detector>,
    /// Per detector: the bytes a match of it can start with (from its pattern's syntax), so
    /// detectors that cannot match at a position are not searched there.
    starts: Vec<ByteSet>,
    /// Per detector: the shortest match its pattern can make (from its syntax), so a shorter
    /// match is not searched for where none fits.
    min_lens: Vec<usize>,
}

/// A set of bytes.
#[derive(Clone, PartialEq, Eq)]
struct ByteSet([bool; 256]);

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByteSet({} bytes)", self.0.iter().filter(|b| **b).count())
    }
}

impl ByteSet {
    fn all() -> ByteSet {
        ByteSet([true; 256])
    }
}

/// The bytes a match of `hir` can start with, and whether it can match the empty string
/// (then what follows decides). Look-arounds (`\b`) consume nothing. Conservative: when in
/// doubt, more bytes.
fn first_bytes(hir: &Hir, set: &mut [bool; 256]) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(literal) => match literal.0.first() {
            Some(b) => {
                set[usize::from(*b)] = true;
                false
            }
            None => true,
        },
        HirKind::Class(Class::Bytes(class)) => {
            for range in class.ranges() {
                for b in range.start()..=range.end() {
                    set[usize::from(b)] = true;
                }
            }
            false
        }
        HirKind::Class(Class::Unicode(class)) => {
            for range in class.ranges() {
                let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                for b in start.min(0x80)..end.min(0x7f).saturating_add(1) {
                    set[b as usize] = true;
                }
                if end >= 0x80 {
                    set[0xc2..=0xf4].iter_mut().for_each(|x| *x = true);
                }
            }
            false
        }
        HirKind::Repetition(rep) => first_bytes(&rep.sub, set) || rep.min == 0,
        HirKind::Capture(capture) => first_bytes(&capture.sub, set),
        HirKind::Concat(items) => items.iter().all(|item| first_bytes(item, set)),
        HirKind::Alternation(items) => {
            // Every branch adds its bytes (no short circuit).
            let mut nullable = false;
            for item in items {
                nullable |= first_bytes(item, set);
            }
            nullable
        }
    }
}

/// The start bytes of `pattern` as the scanner compiles it (all bytes if it cannot tell).
fn start_bytes(pattern: &str) -> ByteSet {
    let config = syntax::Config::new().unicode(false).utf8(false);
    match syntax::parse_with(pattern, &config) {
        Ok(hir) => {
            let mut set = [false; 256];
            if first_bytes(&hir, &mut set) {
                ByteSet::all()
            } else {
                ByteSet(set)
            }
        }
        Err(_) => ByteSet::all(),
    }
}

/// The shortest match `pattern` can make as the scanner compiles it (0 if it cannot tell).
fn min_len(pattern: &str) -> usize {
    let config = syntax::Config::new().unicode(false).utf8(false);
    syntax::parse_with(pattern, &config).ok().and_then(|hir| hir.properties().minimum_len()).unwrap_or(0)
}

impl Scanner {
    /// Compiles `detectors` (in priority order) into one automaton. Patterns are ASCII and
    /// match raw bytes, so invalid UTF-8 is scanned too.
    pub fn compile(detectors: Vec<Detector>) -> Result<Scanner, ConfigError> {
        if detectors.is_empty() {
            return Ok(Scanner { regex: None, detectors, starts: Vec::new(), min_lens: Vec::new() });
        }
        let patterns: Vec<&str> = detectors.iter().map(|d| d.pattern.as_str()).collect();
        let regex = meta::Builder::new()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(meta::Config::new().utf8_empty(false))
            .build_many(&patterns)
            .map_err(|e| {
                let which = e.pattern().map(|p| detectors[p.as_usize()].name.clone()).unwrap_or_default();
                ConfigError::new("detectors", format!("pattern of `{which}` does not compile: {e}"))
            })?;
        let starts = detectors.iter().map(|d| start_bytes(&d.pattern)).collect();
        let min_lens = detectors.iter().map(|d| min_len(&d.pattern)).collect();
        Ok(Scanner { regex: Some(regex), detectors, starts, min_lens })
    }

    /// The detectors, in priority order.
    pub fn detectors(&self) -> &[Detector] {
        &self.detectors
    }

    /// Every finding in `text`, left to right, not overlapping.
    pub fn scan(&self, text: &[u8], findings: &mut Vec<Finding>) {
        let Some(regex) = &self.regex else { return };
        let mut at = 0;
        // The span of the last text shaped like a checksummed value (card, IBAN) that failed
        // its checksum: a near miss, in which other kinds of values (a phone number inside a
        // mistyped IBAN) are not looked for. A checksummed value overlapping it still counts.
        let mut near_miss = 0..0;
        while at < text.len() {
            let Some(m) = regex.search(&Input::new(text).range(at..)) else { break };
            let checksummed = |detector: usize| self.detectors[detector].validator.is_some_and(Validator::is_checksum);
            match self.first_valid(regex, text, m) {
                Some(f) if !checksummed(f.detector) && near_miss.start <= f.start && f.end <= near_miss.end => {
                    at = m.start() + 1;
                }
                Some(finding) => {
                    at = finding.end.max(m.start() + 1);
                    findings.push(finding);
                }
                None => {
                    if checksummed(m.pattern().as_usize()) {
                        near_miss = m.start()..m.end();
                    }
                    at = m.start() + 1;
                }
            }
        }
    }

    /// The finding at `m`'s start: its detector's match, else a shorter match of it (a greedy
    /// match can run into the next value: 16 card digits followed by more digits), else the
    /// next detectors' matches there, in priority order.
    fn first_valid(&self, regex: &meta::Regex, text: &[u8], m: regex_automata::Match) -> Option<Finding> {
        /// Shorter matches tried per detector and position.
        const SHORTER_TRIES: usize = 8;
        let start = m.start();
        let first = text.get(start).copied().unwrap_or(0);
        for detector in m.pattern().as_usize()..self.detectors.len() {
            if detector != m.pattern().as_usize() && !self.starts[detector].0[usize::from(first)] {
                continue; // its pattern cannot start with this byte
            }
            let id = PatternID::new(detector).ok()?;
            let anchored =
                |end: usize| regex.search(&Input::new(text).range(start..end).anchored(Anchored::Pattern(id)));
            let mut candidate = if detector == m.pattern().as_usize() { Some(m) } else { anchored(text.len()) };
            for _ in 0..=SHORTER_TRIES {
                let Some(c) = candidate else { break };
                let shorter = c.end().saturating_sub(c.start() + 1);
                let limit = match self.accept(text, detector, c.start(), c.end()) {
                    Ok(finding) => return Some(finding),
                    Err(Rejected::ByValidator { shorter_limit }) => shorter_limit.min(shorter),
                    Err(Rejected::Otherwise) => shorter,
                };
                if limit == 0 || limit < self.min_lens[detector] {
                    break; // no shorter match can pass, or none fits
                }
                candidate = anchored(c.start() + limit);
            }
        }
        None
    }

    /// The finding a match makes, if it passes the detector's checks.
    fn accept(&self, text: &[u8], detector: usize, start: usize, end: usize) -> Result<Finding, Rejected> {
        let d = &self.detectors[detector];
        let matched = &text[start..end];
        if let Some(validator) = d.validator.filter(|v| !v.check(matched)) {
            return Err(Rejected::ByValidator { shorter_limit: validator.shorter_limit(matched) });
        }
        // A number does not end in the middle of a number: `+44 20 7946 0958 123-45-6789` holds
        // a phone number, then an SSN, not a phone number ending in `123`.
        if d.validator == Some(Validator::Phone) && continues_as_number(&text[end..]) {
            return Err(Rejected::Otherwise);
        }
        let value_from = match d.part {
            Part::Whole => start,
            Part::AfterKey => start + value_start(matched),
        };
        if end.saturating_sub(value_from) < d.min_length.max(1) {
            return Err(Rejected::Otherwise);
        }
        if !d.context.is_empty() && !has_context(text, start, end, d) {
            return Err(Rejected::Otherwise);
        }
        Ok(Finding { detector, start: value_from, end })
    }
}

/// Why a match is not a finding.
enum Rejected {
    /// Its validator refused it; no match at the same start longer than `shorter_limit` can
    /// pass ([`Validator::shorter_limit`]).
    ByValidator { shorter_limit: usize },
    /// Another check refused it (what follows, length, context).
    Otherwise,
}

/// Whether `rest` starts with a separator and a digit (`-45`, `.7`).
fn continues_as_number(rest: &[u8]) -> bool {
    matches!(rest, [b'-' | b'.' | b'/', d, ..] if d.is_ascii_digit())
}

/// Whether one of the detector's context words appears near the match (ASCII case-insensitive).
fn has_context(text: &[u8], start: usize, end: usize, d: &Detector) -> bool {
    let window = &text[start.saturating_sub(d.context_window)..(end + d.context_window).min(text.len())];
    let lower = window.to_ascii_lowercase();
    d.context.iter().any(|word| lower.windows(word.len()).any(|w| w == word.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{min_len, start_bytes};

    fn starts(pattern: &str) -> String {
        let set = start_bytes(pattern);
        (0u8..=255).filter(|b| set.0[usize::from(*b)]).map(char::from).collect()
    }

    #[test]
    fn start_bytes_follow_the_pattern_through_look_arounds_repeats_and_alternations() {
        assert_eq!(starts(r"\beyJ[A-Za-z0-9_-]{4,}\."), "e");
        assert_eq!(starts(r"\b[0-9]{3}-[0-9]{2}"), "0123456789");
        assert_eq!(starts(r"(?:\+[1-9]|\(0[0-9])|\b[2-9]"), "(+23456789");
        assert_eq!(starts(r"(?i:\bbearer)"), "Bb");
        assert_eq!(starts(r"(?:ab)?c"), "ac", "an optional start lets what follows start too");
        assert_eq!(starts(r"\b"), (0u8..=255).map(char::from).collect::<String>(), "empty: any byte");
    }

    #[test]
    fn minimum_lengths_come_from_the_pattern() {
        assert_eq!(min_len(r"(?:\b[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}\b"), 3);
        assert_eq!(min_len(r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"), 11);
        assert_eq!(min_len(r"a*"), 0);
    }
}
