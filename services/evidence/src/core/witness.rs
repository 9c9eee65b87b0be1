//! The C2SP `tlog-witness` protocol: a log sends `POST /add-checkpoint` with the size the
//! witness last cosigned for it, a consistency proof from there, and its new signed
//! checkpoint; the witness checks the log's signature and that the new tree extends the old
//! one, remembers it, and answers its `cosignature/v1` line. A witness never cosigns two
//! trees of a log that are not one the prefix of the other: that is what makes a forked log
//! visible.
//!
//! [`Witness`] is a complete witness for one log (the tests run it as a real HTTP server);
//! [`request`] and [`cosignature_of`] are the log's side.

use super::checkpoint::{add_cosignature, open, LogVerifier};
use super::cosign::WitnessSigner;
use super::merkle::{self, Hash};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The body of `POST /add-checkpoint`: `old <size>`, the proof's hashes (base64, one per
/// line), an empty line, the signed checkpoint.
pub fn request(old_size: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    let mut body = format!("old {old_size}\n").into_bytes();
    for hash in proof {
        body.extend_from_slice(STANDARD.encode(hash.0).as_bytes());
        body.push(b'\n');
    }
    body.push(b'\n');
    body.extend_from_slice(note);
    body
}

/// What is wrong with an `add-checkpoint` body (answered 400 with this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No empty line separates the proof from the checkpoint.
    #[error("no empty line before the checkpoint")]
    NoSeparator,
    /// The head is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// The first line is not `old <size>`.
    #[error("the first line is not `old <size>`")]
    NoOldSize,
    /// A proof line is not base64.
    #[error("a proof line is not base64")]
    ProofNotBase64,
    /// A proof hash is not 32 bytes.
    #[error("a proof hash is not 32 bytes")]
    ProofNot32Bytes,
}

/// Parses an `add-checkpoint` body: the old size, the consistency proof, the checkpoint note.
pub fn parse_request(body: &[u8]) -> Result<(u64, Vec<Hash>, &[u8]), RequestError> {
    let split = body.windows(2).position(|w| w == b"\n\n").ok_or(RequestError::NoSeparator)?;
    let head = std::str::from_utf8(&body[..split]).map_err(|_| RequestError::NotUtf8)?;
    let mut lines = head.lines();
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(|n| n.parse().ok())
        .ok_or(RequestError::NoOldSize)?;
    let mut proof = Vec::new();
    for line in lines {
        let bytes = STANDARD.decode(line).map_err(|_| RequestError::ProofNotBase64)?;
        proof.push(Hash(bytes.try_into().map_err(|_| RequestError::ProofNot32Bytes)?));
    }
    Ok((old, proof, &body[split + 2..]))
}

/// The witness's answer: its cosignature line(s) for `note`, taken from the note it returned
/// signed (`— <name> <base64>` lines not already in `note`).
pub fn cosignature_of(note: &[u8], cosigned: &[u8]) -> Vec<u8> {
    let before: Vec<&[u8]> = note.split(|b| *b == b'\n').collect();
    let mut lines = Vec::new();
    for line in cosigned.split(|b| *b == b'\n') {
        if line.starts_with("— ".as_bytes()) && !before.contains(&line) {
            lines.extend_from_slice(line);
            lines.push(b'\n');
        }
    }
    lines
}

/// A witness of one log: the newest tree it cosigned.
#[derive(Debug, Clone)]
pub struct Witness {
    log: LogVerifier,
    name: String,
    seed: [u8; 32],
    size: u64,
    root: Hash,
}

/// A refusal: the HTTP status the protocol prescribes and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400 malformed, 403 bad log signature, 404 unknown log, 409 wrong old size (the body is
    /// the witness's size), 422 bad consistency proof.
    pub status: u16,
    /// Body.
    pub body: String,
}

fn refuse(status: u16, body: impl Into<String>) -> Refusal {
    Refusal { status, body: body.into() }
}

impl Witness {
    /// A witness called `name` (Ed25519 seed `seed`) of the log with verifier key `log`,
    /// having cosigned nothing yet.
    pub fn new(name: &str, seed: [u8; 32], log: LogVerifier) -> Self {
        Witness { log, name: name.to_string(), seed, size: 0, root: merkle::empty_root() }
    }

    /// The size it last cosigned.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Handles `POST /add-checkpoint` at `now` (seconds since the epoch).
    pub fn add_checkpoint(&mut self, body: &[u8], now: u64) -> Result<Vec<u8>, Refusal> {
        let (old, proof, note) = parse_request(body).map_err(|e| refuse(400, e.to_string()))?;
        if note.split(|b| *b == b'\n').next() != Some(self.log.origin().as_bytes()) {
            return Err(refuse(404, "unknown log"));
        }
        let opened = open(note, &self.log, &[], 0).map_err(|e| refuse(403, e.to_string()))?;
        let checkpoint = opened.checkpoint;
        if old != self.size {
            return Err(refuse(409, self.size.to_string()));
        }
        if checkpoint.size < old {
            return Err(refuse(400, "the checkpoint is smaller than the old size"));
        }
        let consistent = if old == checkpoint.size {
            proof.is_empty() && checkpoint.root == self.root
        } else {
            merkle::verify_consistency(&proof, old, self.root, checkpoint.size, checkpoint.root).is_ok()
        };
        if !consistent {
            return Err(refuse(422, "the checkpoint does not extend the tree this witness cosigned"));
        }
        let signer = WitnessSigner::new(&self.name, self.seed, now).map_err(|e| refuse(500, e.to_string()))?;
        let cosigned = add_cosignature(note, &signer).map_err(|e| refuse(400, e.to_string()))?;
        self.size = checkpoint.size;
        self.root = checkpoint.root;
        Ok(cosignature_of(note, &cosigned))
    }
}
