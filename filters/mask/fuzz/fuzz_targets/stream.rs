//! An event stream or NDJSON body cut into chunks at fuzzed places: masked as it streams, it
//! must give the same bytes as masked in one piece (no value survives a chunk boundary).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "profile.rs"]
mod profile;

use warden_mask::formats::Format;
use warden_mask::profile::Report;
use warden_mask::stream::LineStream;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let format = if selector & 1 == 0 { Format::EventStream } else { Format::Ndjson };
    // The next bytes say where to cut (up to 4 cuts), the rest is the body.
    let cuts_len = usize::from(selector >> 1) % 5;
    if rest.len() < cuts_len {
        return;
    }
    let (cuts, body) = rest.split_at(cuts_len);
    let mut points: Vec<usize> = cuts.iter().map(|&c| usize::from(c) * body.len() / 256).collect();
    points.sort_unstable();
    let profiles = [profile::all_detectors()];
    let mut whole = LineStream::new(format, LIMIT);
    let expected = whole.push(&profiles, body, true, &mut Report::default()).unwrap(); // allow-panic: under the limit
    let mut stream = LineStream::new(format, LIMIT);
    let mut report = Report::default();
    let mut out = Vec::new();
    let mut from = 0;
    for point in points.into_iter().chain([body.len()]) {
        let end = point == body.len();
        out.extend(stream.push(&profiles, &body[from..point], end, &mut report).unwrap()); // allow-panic: under the limit
        from = point;
        if end {
            break;
        }
    }
    assert_eq!(out, expected, "a split body masked differently from the whole");
});
