//! Exporting a range of the log as an offline evidence [`Bundle`].

use crate::core::bundle::{prefix_needed, tlog_proof, Bundle, BundleCheckpoint, FORMAT};
use crate::core::merkle::hex;
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// What to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRequest {
    /// First entry wanted; the bundle starts at the newest checkpoint at or before it (0
    /// when there is none).
    pub from: u64,
    /// Last entry wanted (exclusive); the bundle ends at the newest checkpoint at or before
    /// it. `None`: the newest checkpoint.
    pub to: Option<u64>,
    /// Entries to give an inclusion proof for, spread over the range (first and last
    /// included).
    pub sample: u64,
}

/// Builds the bundle of `request` from `store`. `log_key` and `witness_keys` are the keys the
/// log publishes (copied into the bundle for reference; verifiers bring their own).
pub async fn export(
    store: &Store,
    request: &ExportRequest,
    log_key: &str,
    witness_keys: &[String],
) -> Result<Bundle, StoreError> {
    let last = match request.to {
        Some(to) => store.checkpoint_at_most(to).await?,
        None => store.latest_checkpoint().await?,
    }
    .ok_or_else(|| StoreError::Range("no checkpoint covers that range yet".into()))?;
    if request.from > last.size {
        return Err(StoreError::Range(format!(
            "the range starts at {} but the checkpoint it ends at covers {} entries",
            request.from, last.size
        )));
    }
    let first = if request.from == 0 {
        None
    } else {
        store.checkpoint_at_most(request.from.min(last.size)).await?.filter(|c| c.size > 0)
    };
    let from = first.as_ref().map_or(0, |c| c.size);
    let entries: Vec<String> = store.entries(from, last.size).await?.into_iter().map(|(_, data)| data).collect();
    let prefix_hashes = if from == 0 {
        BTreeMap::new()
    } else {
        store.stored_hashes(&prefix_needed(from, last.size)).await?.into_iter().map(|(i, h)| (i, hex(&h))).collect()
    };
    let consistency = match &first {
        Some(first) => store.consistency_proof(first.size, last.size).await?.iter().map(hex).collect(),
        None => Vec::new(),
    };
    let mut proofs = BTreeMap::new();
    let count = last.size - from;
    if request.sample > 0 && count > 0 {
        let step = (count / request.sample.min(count)).max(1);
        let mut picks: Vec<u64> = (from..last.size).step_by(usize::try_from(step).unwrap_or(1)).collect();
        picks.truncate(usize::try_from(request.sample).unwrap_or(usize::MAX));
        picks.push(last.size - 1);
        picks.dedup();
        for index in picks {
            let proof = store.inclusion_proof(index, last.size).await?;
            proofs.insert(index, tlog_proof(index, &proof, &last.note));
        }
    }
    let mut policies = BTreeMap::new();
    for entry in &entries {
        let version = serde_json::from_str::<serde_json::Value>(entry)
            .ok()
            .and_then(|v| v.pointer("/decision/policy").and_then(|p| p.as_str()).map(str::to_string));
        if let Some(version) = version.filter(|v| !policies.contains_key(v)) {
            if let Some(document) = store.policy(&version).await? {
                policies.insert(version, document);
            }
        }
    }
    let origin = log_key.split('+').next().unwrap_or_default().to_string();
    Ok(Bundle {
        format: FORMAT.into(),
        origin,
        log_key: log_key.into(),
        witness_keys: witness_keys.to_vec(),
        from,
        entries,
        prefix_hashes,
        first: first.map(|c| BundleCheckpoint { size: c.size, note: c.note }),
        last: BundleCheckpoint { size: last.size, note: last.note },
        consistency,
        proofs,
        policies,
    })
}
