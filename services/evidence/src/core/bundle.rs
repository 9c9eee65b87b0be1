//! Evidence bundles: a range of the log an auditor takes away and verifies offline, with no
//! network: the entries, the first and last checkpoints (signed, cosigned) with a consistency
//! proof, the few stored hashes of the tree before the range, the keys, and a C2SP
//! `tlog-proof` for sampled entries.
//!
//! [`verify`] recomputes the tree from the entries (so any edit, deletion, insertion,
//! reordering or truncation changes a root the log signed), opens the checkpoints with keys
//! the auditor trusts, checks every record's shape and canonical form, and follows every
//! stream's sequence and hash chain, reporting gaps.

use super::checkpoint::{open, LogVerifier, Opened};
use super::cosign::WitnessVerifier;
use super::merkle::{self, from_hex, hex, Hash, MemoryTree, MerkleError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use warden_kit::audit::{chain_hash, AuditRecord, RecordKind};
use warden_kit::ledger::LedgerEntry;

/// The bundle format name.
pub const FORMAT: &str = "warden-evidence-bundle/v1";

/// A signed checkpoint in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// The signed note (C2SP tlog-checkpoint), with any witness cosignatures.
    pub note: String,
}

/// An exported range of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key, as the log published it (an auditor checks it against the key
    /// they trust; `verify` never trusts it by itself).
    pub log_key: String,
    /// Witness verifier keys the log knows.
    #[serde(default)]
    pub witness_keys: Vec<String>,
    /// Index of the first entry.
    pub from: u64,
    /// The entries `from..last.size`, each the exact canonical bytes that were hashed.
    pub entries: Vec<String>,
    /// Stored hashes of the tree of `from` entries that recomputing the range needs (index →
    /// hex). Empty when `from` is 0.
    #[serde(default)]
    pub prefix_hashes: BTreeMap<u64, String>,
    /// The checkpoint of `from` entries (absent when `from` is 0).
    #[serde(default)]
    pub first: Option<BundleCheckpoint>,
    /// The checkpoint the range ends at.
    pub last: BundleCheckpoint,
    /// Consistency proof from `first` to `last` (hex hashes).
    #[serde(default)]
    pub consistency: Vec<String>,
    /// `c2sp.org/tlog-proof@v1` proofs of sampled entries, by index.
    #[serde(default)]
    pub proofs: BTreeMap<u64, String>,
    /// Policy documents by version (`sha256:...`), for re-checking decisions.
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

/// A policy document's version: `sha256:` and the hex SHA-256 of its canonical JSON (the
/// policy stage's version of the same set).
pub fn policy_version(document: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", warden_kit::hex::encode(&Sha256::digest(document)))
}

/// The stored hashes of the tree of `from` entries that appending entries `from..to` and
/// computing the roots of `from` and `to` read.
pub fn prefix_needed(from: u64, to: u64) -> Vec<u64> {
    let base = tlog_tiles::stored_hash_count(from);
    let mut indexes = Vec::new();
    let zero = Hash([0; merkle::HASH_SIZE]);
    for n in from..to {
        indexes.extend(merkle::needed(|s| merkle::hashes_to_append(n, zero, s)).into_iter().filter(|i| *i < base));
    }
    indexes.extend(merkle::needed(|s| merkle::root(from, s)));
    indexes.extend(merkle::needed(|s| merkle::root(to, s)).into_iter().filter(|i| *i < base));
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// A C2SP `tlog-proof@v1` text: an inclusion proof of entry `index` with the checkpoint it is
/// proved against.
pub fn tlog_proof(index: u64, proof: &[Hash], checkpoint_note: &str) -> String {
    use base64::Engine;
    let mut text = format!("c2sp.org/tlog-proof@v1\nindex {index}\n");
    for hash in proof {
        text.push_str(&base64::engine::general_purpose::STANDARD.encode(hash.0));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(checkpoint_note);
    text
}

/// Parses a `tlog-proof@v1`: the index, the proof hashes and the checkpoint note.
pub fn parse_tlog_proof(text: &str) -> Option<(u64, Vec<Hash>, &str)> {
    use base64::Engine;
    let rest = text.strip_prefix("c2sp.org/tlog-proof@v1\n")?;
    let (head, note) = rest.split_once("\n\n")?;
    let mut lines = head.lines();
    let index = lines.next()?.strip_prefix("index ")?.parse().ok()?;
    let mut hashes = Vec::new();
    for line in lines {
        let bytes = base64::engine::general_purpose::STANDARD.decode(line).ok()?;
        hashes.push(Hash(bytes.try_into().ok()?));
    }
    Some((index, hashes, note))
}

/// What the auditor trusts.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The log's key.
    pub log: LogVerifier,
    /// The witnesses whose cosignatures the auditor accepts.
    pub witnesses: Vec<WitnessVerifier>,
    /// Cosignatures each checkpoint must carry.
    pub required_witnesses: usize,
}

/// Per-stream summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    /// Records of the stream in the bundle.
    pub records: u64,
    /// First sequence number seen.
    pub first_seq: u64,
    /// Last sequence number seen.
    pub last_seq: u64,
    /// Records the stream said it dropped (`gap` records).
    pub dropped: u64,
    /// Sequence numbers missing inside the bundle.
    pub missing: u64,
}

/// The outcome of a verification: every problem found, and what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Problems; the bundle verifies only if this is empty.
    pub failures: Vec<String>,
    /// Things an auditor should know that are not failures (e.g. records a proxy dropped and
    /// said so with a gap record).
    pub notes: Vec<String>,
    /// Entries checked.
    pub entries: u64,
    /// Request records, gap records and approval events.
    pub requests: u64,
    /// Gap records.
    pub gaps: u64,
    /// Intent records (strict routes).
    pub intents: u64,
    /// Approval events.
    pub approval_events: u64,
    /// Streams, by id.
    pub streams: BTreeMap<String, StreamReport>,
    /// Range verified (`from..to`).
    pub from: u64,
    /// End.
    pub to: u64,
    /// Witnesses whose cosignatures verified on the last checkpoint.
    pub witnesses: Vec<String>,
    /// Inclusion proofs verified.
    pub proofs: u64,
}

impl Report {
    /// Whether everything held.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    fn fail(&mut self, message: impl Into<String>) {
        if self.failures.len() < 1000 {
            self.failures.push(message.into());
        }
    }
}

/// Verifies `bundle` offline against what the auditor trusts. Never stops at the first
/// problem: the report lists them all (up to 1,000).
pub fn verify(bundle: &Bundle, trust: &Trust) -> Report {
    let mut report = Report { from: bundle.from, to: bundle.last.size, ..Report::default() };
    if bundle.format != FORMAT {
        report.fail(format!("not a {FORMAT} bundle (format {:?})", bundle.format));
        return report;
    }
    if bundle.origin != trust.log.origin() {
        report.fail(format!(
            "the bundle is of log {:?}, the trusted key is of {:?}",
            bundle.origin,
            trust.log.origin()
        ));
    }
    let last = match open(bundle.last.note.as_bytes(), &trust.log, &trust.witnesses, trust.required_witnesses) {
        Ok(opened) => Some(opened),
        Err(err) => {
            report.fail(format!("last checkpoint: {err}"));
            None
        }
    };
    let first = match &bundle.first {
        None if bundle.from == 0 => None,
        None => {
            report.fail(format!("the range starts at {} but has no checkpoint there", bundle.from));
            None
        }
        Some(c) => match open(c.note.as_bytes(), &trust.log, &trust.witnesses, trust.required_witnesses) {
            Ok(opened) => Some(opened),
            Err(err) => {
                report.fail(format!("first checkpoint: {err}"));
                None
            }
        },
    };
    check_sizes(bundle, first.as_ref(), last.as_ref(), &mut report);
    check_tree(bundle, first.as_ref(), last.as_ref(), &mut report);
    check_entries(bundle, &mut report);
    check_policies(bundle, &mut report);
    let mut signed: Vec<(u64, Hash, String)> = Vec::new();
    if let Some(opened) = &first {
        signed.push((opened.checkpoint.size, opened.checkpoint.root, "the first checkpoint".into()));
    }
    if let Some(opened) = &last {
        signed.push((opened.checkpoint.size, opened.checkpoint.root, "the last checkpoint".into()));
    }
    signed.extend(check_proofs(bundle, trust, &mut report));
    check_fork(&signed, &mut report);
    if let Some(opened) = &last {
        report.witnesses.clone_from(&opened.witnesses);
    }
    report
}

fn check_sizes(bundle: &Bundle, first: Option<&Opened>, last: Option<&Opened>, report: &mut Report) {
    if let Some(last) = last {
        if last.checkpoint.size != bundle.last.size {
            report.fail(format!(
                "the last checkpoint is of {} entries, the bundle says {}",
                last.checkpoint.size, bundle.last.size
            ));
        }
    }
    if let (Some(first), Some(c)) = (first, &bundle.first) {
        if first.checkpoint.size != c.size || c.size != bundle.from {
            report.fail(format!(
                "the first checkpoint is of {} entries, the range starts at {}",
                first.checkpoint.size, bundle.from
            ));
        }
    }
    let expected = bundle.last.size.saturating_sub(bundle.from);
    if u64::try_from(bundle.entries.len()).unwrap_or(u64::MAX) != expected || bundle.last.size < bundle.from {
        report.fail(format!(
            "the range {}..{} has {} entries, the bundle holds {}",
            bundle.from,
            bundle.last.size,
            expected,
            bundle.entries.len()
        ));
    }
}

/// Recomputes the tree: the roots of `from` and of the end must be the ones the log signed.
fn check_tree(bundle: &Bundle, first: Option<&Opened>, last: Option<&Opened>, report: &mut Report) {
    let mut prefix = BTreeMap::new();
    for (index, text) in &bundle.prefix_hashes {
        match from_hex(text) {
            Some(hash) => {
                prefix.insert(*index, hash);
            }
            None => report.fail(format!("prefix hash {index} is not a hash")),
        }
    }
    let mut tree = MemoryTree::from_prefix(bundle.from, prefix);
    for entry in &bundle.entries {
        if let Err(err) = tree.append(entry.as_bytes()) {
            report.fail(format!("the tree before the range is incomplete: {err}"));
            return;
        }
    }
    let end = tree.size();
    let root_of = |size: u64| -> Result<Hash, MerkleError> { merkle::root(size, &tree) };
    if let Some(last) = last {
        match root_of(end) {
            Ok(root) if last.checkpoint.size == end && root == last.checkpoint.root => {}
            Ok(root) => report.fail(format!(
                "the entries give root {} at size {end}; the log signed {} at size {}",
                hex(&root),
                hex(&last.checkpoint.root),
                last.checkpoint.size
            )),
            Err(err) => report.fail(format!("cannot compute the root at {end}: {err}")),
        }
    }
    if let Some(first) = first {
        match root_of(bundle.from) {
            Ok(root) if root == first.checkpoint.root => {}
            Ok(_) => report.fail("the hashes before the range do not give the first checkpoint's root"),
            Err(err) => report.fail(format!("cannot compute the root at {}: {err}", bundle.from)),
        }
        if let Some(last) = last {
            let proof: Option<Vec<Hash>> = bundle.consistency.iter().map(|h| from_hex(h)).collect();
            let consistent = proof.is_some_and(|p| {
                merkle::verify_consistency(
                    &p,
                    first.checkpoint.size,
                    first.checkpoint.root,
                    last.checkpoint.size,
                    last.checkpoint.root,
                )
                .is_ok()
            });
            if !consistent {
                report.fail("the first checkpoint is not a prefix of the last (consistency proof fails)");
            }
        }
    }
}

/// Shapes, canonical form, streams.
fn check_entries(bundle: &Bundle, report: &mut Report) {
    let mut last_in_stream: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for (offset, text) in bundle.entries.iter().enumerate() {
        let index = bundle.from + u64::try_from(offset).unwrap_or(u64::MAX);
        report.entries += 1;
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                report.fail(format!("entry {index} is not JSON"));
                continue;
            }
        };
        if warden_kit::canonical::from_value(&value).ok().as_deref() != Some(text.as_bytes()) {
            report.fail(format!("entry {index} is not in canonical form"));
        }
        let record = match serde_json::from_value(value) {
            Ok(LedgerEntry::ApprovalEvent(_)) => {
                report.approval_events += 1;
                continue;
            }
            Ok(LedgerEntry::Record(record)) => record,
            Err(err) => {
                report.fail(format!("entry {index} is not a ledger entry: {err}"));
                continue;
            }
        };
        match record.kind {
            RecordKind::Request => report.requests += 1,
            RecordKind::Gap => report.gaps += 1,
            RecordKind::Intent => {
                // Intents are checked for form and uniqueness (the ledger's index), not for a
                // complete sequence: one the ledger did not acknowledge refused its request.
                report.intents += 1;
                continue;
            }
        }
        let stream = report.streams.entry(record.stream.clone()).or_default();
        stream.records += 1;
        stream.dropped += record.gap.as_ref().map_or(0, |g| g.dropped);
        match last_in_stream.get(&record.stream) {
            None => {
                stream.first_seq = record.seq;
                if record.seq == 0 && !record.prev.is_empty() {
                    report_fail_chain(report, index, &record, "the first record of a stream has a previous hash");
                } else if record.seq > 0 && bundle.from == 0 {
                    let stream = report.streams.entry(record.stream.clone()).or_default();
                    stream.missing += record.seq;
                }
            }
            Some((seq, hash)) => {
                if record.seq <= *seq {
                    report.fail(format!(
                        "entry {index}: stream {} repeats or reorders sequence {}",
                        record.stream, record.seq
                    ));
                } else if record.seq == seq + 1 {
                    if &record.prev != hash {
                        report_fail_chain(report, index, &record, "its previous hash is not the previous record's");
                    }
                } else {
                    let stream = report.streams.entry(record.stream.clone()).or_default();
                    stream.missing += record.seq - seq - 1;
                }
            }
        }
        let stream = report.streams.entry(record.stream.clone()).or_default();
        stream.last_seq = record.seq;
        last_in_stream.insert(record.stream.clone(), (record.seq, chain_hash(text.as_bytes())));
    }
    let summaries: Vec<(String, StreamReport)> = report.streams.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (id, stream) in summaries {
        if stream.missing > stream.dropped {
            report.fail(format!(
                "stream {id}: {} records missing, {} of them reported dropped: {} lost without a trace",
                stream.missing,
                stream.dropped,
                stream.missing - stream.dropped
            ));
        } else if stream.missing > 0 {
            report.notes.push(format!(
                "stream {id}: {} records dropped by the proxy and reported (gap records)",
                stream.missing
            ));
        }
    }
}

fn report_fail_chain(report: &mut Report, index: u64, record: &AuditRecord, why: &str) {
    report.fail(format!("entry {index}: stream {} sequence {}: {why}", record.stream, record.seq));
}

/// Policy documents must hash to their versions; decisions under versions the bundle has no
/// document for are noted (they cannot be re-checked from it).
fn check_policies(bundle: &Bundle, report: &mut Report) {
    for (version, document) in &bundle.policies {
        if &policy_version(document.as_bytes()) != version {
            report.fail(format!("the policy document given for {version} does not hash to it"));
        }
    }
    let mut missing: BTreeMap<String, u64> = BTreeMap::new();
    for entry in &bundle.entries {
        let version = serde_json::from_str::<serde_json::Value>(entry)
            .ok()
            .and_then(|v| v.pointer("/decision/policy").and_then(|p| p.as_str()).map(str::to_string));
        if let Some(version) = version.filter(|v| !bundle.policies.contains_key(v)) {
            *missing.entry(version).or_insert(0) += 1;
        }
    }
    for (version, count) in missing {
        report.notes.push(format!(
            "{count} decisions under policy {version}, whose document was never published to the ledger"
        ));
    }
}

/// Sampled inclusion proofs, each against its own (trusted) checkpoint.
/// Two roots the log signed for one tree size are a forked log: it showed one history to some
/// readers and another to others (what transparency logs exist to catch). Every checkpoint
/// in the bundle (first, last, each proof's) is compared, whatever witnesses are required.
fn check_fork(signed: &[(u64, Hash, String)], report: &mut Report) {
    let mut seen: BTreeMap<u64, (Hash, &str)> = BTreeMap::new();
    let mut forked = BTreeMap::new();
    for (size, root, place) in signed {
        match seen.get(size) {
            Some((other, first_place)) if other != root => {
                forked.entry(*size).or_insert_with(|| format!("{first_place} and {place}"));
            }
            Some(_) => {}
            None => {
                seen.insert(*size, (*root, place));
            }
        }
    }
    for (size, places) in forked {
        report.fail(format!(
            "FORKED LOG: the log signed two different roots for tree size {size} ({places}): it has shown \
             different histories to different readers, and no evidence from it can be trusted"
        ));
    }
}

/// Verifies the sampled inclusion proofs; returns each opened proof checkpoint (size, root,
/// where) for the fork check.
fn check_proofs(bundle: &Bundle, trust: &Trust, report: &mut Report) -> Vec<(u64, Hash, String)> {
    let mut signed = Vec::new();
    for (index, text) in &bundle.proofs {
        let Some((proved, hashes, note)) = parse_tlog_proof(text) else {
            report.fail(format!("proof of entry {index} is not a tlog-proof"));
            continue;
        };
        let opened = match open(note.as_bytes(), &trust.log, &trust.witnesses, trust.required_witnesses) {
            Ok(opened) => opened,
            Err(err) => {
                report.fail(format!("proof of entry {index}: its checkpoint: {err}"));
                continue;
            }
        };
        signed.push((opened.checkpoint.size, opened.checkpoint.root, format!("the proof of entry {index}")));
        let entry =
            index.checked_sub(bundle.from).and_then(|k| usize::try_from(k).ok()).and_then(|k| bundle.entries.get(k));
        let Some(entry) = entry.filter(|_| proved == *index) else {
            report.fail(format!("proof of entry {index} is for entry {proved}, or that entry is not in the bundle"));
            continue;
        };
        let leaf = merkle::leaf_hash(entry.as_bytes());
        if merkle::verify_inclusion(&hashes, proved, opened.checkpoint.size, leaf, opened.checkpoint.root).is_err() {
            report.fail(format!("proof of entry {index} does not verify"));
            continue;
        }
        report.proofs += 1;
    }
    signed
}
