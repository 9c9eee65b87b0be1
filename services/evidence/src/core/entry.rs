//! Log entries: what the ledger appends, and how a batch of audit records from a proxy is
//! checked before it is (shape, canonical form, kind) — all or nothing.

use warden_kit::audit::AuditRecord;
use warden_kit::ledger::EntryKind;

/// An entry to append: its kind (`request`, `gap`, `approval_event`), the stream it belongs
/// to with its sequence number there, and its canonical JSON (the leaf data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// What the entry is (request, gap, intent, approval event).
    pub kind: EntryKind,
    /// Stream id.
    pub stream: String,
    /// Sequence number in the stream.
    pub seq: u64,
    /// Canonical JSON (UTF-8).
    pub data: String,
}

/// Why a batch was refused: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BatchError {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong (never the line's content).
    pub message: String,
}

/// Largest number of records in one batch.
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// Parses a batch of audit records, one canonical JSON record per line (NDJSON; empty lines
/// are skipped). Each must be an [`AuditRecord`] of shape version 1 in RFC 8785 canonical
/// form (the bytes the proxy hashed are the bytes stored).
pub fn parse_records(body: &str) -> Result<Vec<NewEntry>, BatchError> {
    let mut entries = Vec::new();
    for (i, line) in body.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fail = |message: String| BatchError { line: i + 1, message };
        if entries.len() == MAX_BATCH_RECORDS {
            return Err(fail(format!("a batch holds at most {MAX_BATCH_RECORDS} records")));
        }
        let record: AuditRecord = serde_json::from_str(line).map_err(|e| {
            // The category and column only: never echo what the caller sent.
            fail(format!("not an audit record ({:?} error at column {})", e.classify(), e.column()))
        })?;
        if record.v != warden_kit::audit::RECORD_VERSION {
            return Err(fail(format!("record shape version {} is not supported", record.v)));
        }
        let canonical = record.canonical().map_err(|e| fail(e.to_string()))?;
        if canonical != line.as_bytes() {
            return Err(fail("not in RFC 8785 canonical form (the bytes hashed must be the bytes sent)".into()));
        }
        if record.stream.is_empty() {
            return Err(fail("no stream".into()));
        }
        // The stream is a column of its own: neither database stores a NUL character in
        // text (PostgreSQL refuses it), and no writer names a stream with control characters.
        if record.stream.chars().any(char::is_control) {
            return Err(fail("stream: holds a control character".into()));
        }
        entries.push(NewEntry {
            kind: record.kind.into(),
            stream: record.stream,
            seq: record.seq,
            data: line.to_string(),
        });
    }
    Ok(entries)
}
