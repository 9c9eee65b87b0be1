//! Bodies by content type: JSON, NDJSON, event streams (each `data:` line), URL-encoded forms,
//! text. A body labelled JSON that does not parse is scanned as text, and the report says so.

use crate::json;
use crate::profile::{Profile, Report};

/// How a body is read (the facts' [`BodyFormat`]).
pub use warden_kit::facts::BodyFormat as Format;

/// The format a content type names; `None` for other types (configuration decides).
pub fn of(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/json" => Format::Json,
        t if t.ends_with("+json") => Format::Json,
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/json-lines" => {
            Format::Ndjson
        }
        "text/event-stream" => Format::EventStream,
        "application/x-www-form-urlencoded" => Format::Form,
        t if t.starts_with("text/") => Format::Text,
        _ => return None,
    })
}

/// The masked body (`None`: nothing found).
pub fn mask_body(profile: &Profile, format: Format, body: &[u8], report: &mut Report) -> Option<Vec<u8>> {
    report.format = Some(format);
    match format {
        Format::Json => json_or_text(profile, body, report),
        Format::Text => profile.mask_text(body, report, None),
        Format::Ndjson => by_line(body, |line| json_or_text(profile, line, report)),
        Format::EventStream => by_line(body, |line| match line.strip_prefix(b"data:") {
            Some(data) => {
                let data = data.strip_prefix(b" ").unwrap_or(data);
                json_or_text(profile, data, report).map(|masked| [&b"data: "[..], &masked].concat())
            }
            None => profile.mask_text(line, report, None),
        }),
        Format::Form => form(profile, body, report),
    }
}

/// JSON masked by structure, or as text when it does not parse.
fn json_or_text(profile: &Profile, body: &[u8], report: &mut Report) -> Option<Vec<u8>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match json::mask(profile, body, report) {
        Ok(masked) => masked,
        Err(json::NotJson) => {
            report.note("json_unparseable_scanned_as_text");
            profile.mask_text(body, report, None)
        }
    }
}

/// Applies `mask` to each line (without its line ending); `None` when no line changed.
fn by_line(body: &[u8], mut mask: impl FnMut(&[u8]) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut start = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let content_len = line.len() - line.iter().rev().take_while(|&&b| b == b'\n' || b == b'\r').count();
        if let Some(masked) = mask(&line[..content_len]) {
            let buffer = out.get_or_insert_with(|| Vec::with_capacity(body.len()));
            buffer.extend_from_slice(&body[copied..start]);
            buffer.extend_from_slice(&masked);
            copied = start + content_len;
        }
        start += line.len();
    }
    let mut buffer = out?;
    buffer.extend_from_slice(&body[copied..]);
    Some(buffer)
}

/// Each value of a URL-encoded form, decoded, masked and encoded again; names are kept.
fn form(profile: &Profile, body: &[u8], report: &mut Report) -> Option<Vec<u8>> {
    let mut changed = false;
    let pairs: Vec<Vec<u8>> = body
        .split(|&b| b == b'&')
        .map(|pair| {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else { return pair.to_vec() };
            let value = percent_decode(&pair[eq + 1..]);
            match profile.mask_text(&value, report, None) {
                Some(masked) => {
                    changed = true;
                    [&pair[..=eq], &percent_encode(&masked)].concat()
                }
                None => pair.to_vec(),
            }
        })
        .collect();
    changed.then(|| pairs.join(&b'&'))
}

fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => {
                match std::str::from_utf8(&text[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn percent_encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'*') {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}
