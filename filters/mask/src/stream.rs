//! Masking a line-framed body (event stream, NDJSON) as it arrives: each chunk's complete lines
//! are masked and handed on at once, the incomplete last line is carried over to the next
//! chunk, and the carry-over is bounded. Because both formats are masked line by line, the
//! output is byte-identical to masking the whole body at once, however it is split.
//!
//! The stage keeps one per streamed body in the request's scratch (never in facts).

use crate::formats::{mask_body, Format};
use crate::profile::{Profile, Report};

/// A line grew past the carry-over bound: it cannot be masked without buffering more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// The state of one streamed body.
#[derive(Debug)]
pub struct LineStream {
    format: Format,
    carry: Vec<u8>,
    max_line_bytes: usize,
}

impl LineStream {
    /// A stream of `format` (event stream or NDJSON) whose lines are at most `max_line_bytes`.
    pub fn new(format: Format, max_line_bytes: usize) -> LineStream {
        LineStream { format, carry: Vec::new(), max_line_bytes }
    }

    /// The masked bytes to send for `chunk` (the complete lines so far); at `end`, the rest.
    pub fn push(
        &mut self,
        profiles: &[&Profile],
        chunk: &[u8],
        end: bool,
        report: &mut Report,
    ) -> Result<Vec<u8>, LineTooLong> {
        self.carry.extend_from_slice(chunk);
        let complete =
            if end { self.carry.len() } else { self.carry.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        if self.carry.len() - complete > self.max_line_bytes {
            return Err(LineTooLong);
        }
        let rest = self.carry.split_off(complete);
        let mut out = std::mem::replace(&mut self.carry, rest);
        for profile in profiles {
            if let Some(masked) = mask_body(profile, self.format, &out, report) {
                out = masked;
            }
        }
        Ok(out)
    }
}
