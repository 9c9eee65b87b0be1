//! The ledger running inside `warden serve`: opening it, and its background work (a new
//! signed checkpoint whenever the log grew, other services' events taken in).

use crate::config::Ledger;
use crate::core::checkpoint::LogSigner;
use crate::core::entry::NewEntry;
use crate::store::{Store, StoreError};
use std::future::Future;
use std::pin::Pin;

/// The stream approval events are appended under.
pub const APPROVAL_EVENTS: &str = "approvals";

/// Events from another service, after a sequence number: `(seq, canonical JSON)` in order.
pub type EventSource =
    Box<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<Vec<(u64, String)>, String>> + Send>> + Send + Sync>;

/// Opens the ledger's storage on `pool` (the database `warden serve` already opened) and its
/// key: `seed` is the checkpoint key's 32-byte seed.
pub async fn open(
    ledger: &Ledger,
    pool: sqlx::AnyPool,
    backend: crate::store::Backend,
    seed: [u8; 32],
) -> Result<(Store, LogSigner), String> {
    let signer = LogSigner::new(&ledger.origin, seed).map_err(|e| format!("evidence.origin: {e}"))?;
    let store = Store::on_pool(pool, backend).await.map_err(|e| e.to_string())?;
    Ok((store, signer))
}

/// One round of background work: approval events after the last one logged are appended
/// (all of a round's in one batch), then a checkpoint is signed if the log grew. Returns the
/// events appended.
pub async fn tick(store: &Store, signer: &LogSigner, events: Option<&EventSource>) -> Result<u64, StoreError> {
    let mut appended = 0;
    if let Some(source) = events {
        let after = store.last_seq(APPROVAL_EVENTS).await?.unwrap_or(0);
        match source(after).await {
            Ok(batch) if !batch.is_empty() => {
                let entries: Vec<NewEntry> = batch
                    .into_iter()
                    .map(|(seq, data)| NewEntry {
                        kind: "approval_event".into(),
                        stream: APPROVAL_EVENTS.into(),
                        seq,
                        data,
                    })
                    .collect();
                appended = store.append(&entries, crate::unix_now()).await?.appended;
            }
            Ok(_) => {}
            Err(message) => eprintln!("warden evidence: reading approval events: {message}"),
        }
    }
    store.checkpoint(signer, crate::unix_now()).await?;
    Ok(appended)
}
