//! Arbitrary bytes as a body of every format, masked with every built-in detector: masking
//! must never panic, and a body that is valid JSON must come out as valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "profile.rs"]
mod profile;

use warden_mask::formats::{mask_body, Format};
use warden_mask::profile::Report;

const FORMATS: [Format; 5] = [Format::Json, Format::Ndjson, Format::EventStream, Format::Form, Format::Text];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let mut report = Report::default();
    let masked = mask_body(profile::all_detectors(), format, body, &mut report);
    if format == Format::Json && serde_json::from_slice::<serde_json::Value>(body).is_ok() && report.notes.is_empty() {
        if let Some(out) = masked {
            assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok(), "valid JSON in, invalid JSON out");
        }
    }
});
