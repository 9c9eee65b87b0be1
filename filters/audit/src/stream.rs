//! A VM's record stream: its id, the next sequence number and the previous record's hash.

use crate::writer::Position;
use sha2::{Digest, Sha256};
use warden_kit::audit::{chain_hash, AuditRecord, Gap, RecordKind, RECORD_VERSION};
use warden_kit::canonical::CanonicalError;

/// One VM's stream of records. Per-VM state: created at the VM's first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    id: String,
    next_seq: u64,
    prev: String,
}

impl Stream {
    /// A stream whose id is derived from `seed` (bytes unique to this VM: the proxy's node
    /// id, a connection id, the time in nanoseconds and the VM's random bytes): 32 hex digits
    /// of its SHA-256.
    pub fn new(seed: &[u8]) -> Self {
        let digest = Sha256::digest(seed);
        let id = warden_kit::hex::encode(&digest[..16]);
        Stream { id, next_seq: 0, prev: String::new() }
    }

    /// The stream id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the record's stream, sequence and previous hash, and returns its canonical bytes;
    /// the stream then advances. On error (a record with no canonical form) nothing advances.
    pub fn seal(&mut self, record: &mut AuditRecord) -> Result<Vec<u8>, CanonicalError> {
        record.stream.clone_from(&self.id);
        record.seq = self.next_seq;
        record.prev.clone_from(&self.prev);
        let bytes = warden_kit::canonical::to_vec(&*record)?;
        self.prev = chain_hash(&bytes);
        self.next_seq += 1;
        Ok(bytes)
    }

    /// The record at this stream's next position, written by `write` (its canonical bytes,
    /// or `None` to fall back to [`Stream::seal`] of the record `fallback` builds); the stream
    /// then advances.
    pub fn seal_written(
        &mut self,
        write: impl FnOnce(Position<'_>) -> Option<Vec<u8>>,
        fallback: impl FnOnce() -> AuditRecord,
    ) -> Result<Vec<u8>, CanonicalError> {
        let position = Position { stream: &self.id, seq: self.next_seq, prev: &self.prev };
        match write(position) {
            Some(bytes) => {
                self.prev = chain_hash(&bytes);
                self.next_seq += 1;
                Ok(bytes)
            }
            None => self.seal(&mut fallback()),
        }
    }

    /// A sealed `gap` record saying `dropped` records were lost at `time_ms`.
    pub fn gap(&mut self, dropped: u64, time_ms: u64) -> Result<Vec<u8>, CanonicalError> {
        let mut record = AuditRecord {
            v: RECORD_VERSION,
            kind: RecordKind::Gap,
            stream: String::new(),
            seq: 0,
            prev: String::new(),
            time_ms,
            request_id: String::new(),
            trace_id: String::new(),
            who: None,
            from: None,
            what: None,
            decision: None,
            approval: None,
            masking: None,
            outcome: None,
            gap: Some(Gap { dropped }),
            refused: None,
        };
        self.seal(&mut record)
    }
}
