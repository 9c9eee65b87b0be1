//! A compiled masking profile: its detectors in one scanner, a strategy per detector, JSON path
//! rules, and what masking a text or a body reports (types, counts, paths; never values).

use crate::jsonpath::{render, JsonPath, Segment};
use crate::scanner::{Finding, Scanner};
use crate::strategy::{HashKey, Strategy};
use warden_kit::facts::MaskingReport;

/// What masking one body found (the `warden.masking` shape of one direction).
pub type Report = MaskingReport;

/// A JSON path rule: the selected value is replaced whole, whatever it holds.
#[derive(Debug)]
pub struct PathRule {
    /// Where.
    pub path: JsonPath,
    /// Type reported and used in placeholders (`[SSN]`).
    pub kind: String,
    /// Replacement.
    pub strategy: Strategy,
}

/// A compiled profile.
#[derive(Debug)]
pub struct Profile {
    /// Name (as obligations and routes name it).
    pub name: String,
    scanner: Scanner,
    strategies: Vec<Strategy>,
    paths: Vec<PathRule>,
    key: Option<HashKey>,
}

impl Profile {
    /// A profile from its parts (see `config` for how they are compiled).
    pub fn new(
        name: String,
        scanner: Scanner,
        strategies: Vec<Strategy>,
        paths: Vec<PathRule>,
        key: Option<HashKey>,
    ) -> Profile {
        Profile { name, scanner, strategies, paths, key }
    }

    /// The key of `hash` tokens.
    pub fn key(&self) -> Option<&HashKey> {
        self.key.as_ref()
    }

    /// The path rule selecting the value at `location`, if any.
    pub fn path_rule(&self, location: &[Segment<'_>]) -> Option<&PathRule> {
        if location.is_empty() {
            return None;
        }
        self.paths.iter().find(|rule| rule.path.matches(location))
    }

    /// What the detectors find in `text`: each value's detector name and byte range (for
    /// evaluation and explanation; masking uses [`Profile::mask_text`]).
    pub fn find(&self, text: &[u8]) -> Vec<(&str, std::ops::Range<usize>)> {
        let mut findings = Vec::new();
        self.scanner.scan(text, &mut findings);
        findings.into_iter().map(|f| (self.scanner.detectors()[f.detector].name.as_str(), f.start..f.end)).collect()
    }

    /// `text` with every detected value replaced (`None`: nothing found).
    pub fn mask_text(&self, text: &[u8], report: &mut Report, location: Option<&[Segment<'_>]>) -> Option<Vec<u8>> {
        let mut findings: Vec<Finding> = Vec::new();
        self.scanner.scan(text, &mut findings);
        if findings.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0;
        for finding in findings {
            let detector = &self.scanner.detectors()[finding.detector];
            out.extend_from_slice(&text[copied..finding.start]);
            let value = &text[finding.start..finding.end];
            out.extend_from_slice(&self.strategies[finding.detector].apply(&detector.name, value, self.key()));
            copied = finding.end;
            report.found(&detector.name, location.map(render));
        }
        out.extend_from_slice(&text[copied..]);
        Some(out)
    }
}
