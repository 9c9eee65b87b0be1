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
/// (all of a round's in one batch), a checkpoint is signed if the log grew, and the witnesses
/// are asked to cosign it (a witness's failure is reported, never fatal). Returns the events
/// appended.
pub async fn tick(
    store: &Store,
    signer: &LogSigner,
    events: Option<&EventSource>,
    witnesses: &mut [WitnessClient],
) -> Result<u64, StoreError> {
    let mut appended = 0;
    if let Some(source) = events {
        let after = store.last_seq(APPROVAL_EVENTS).await?.unwrap_or(0);
        match source(after).await {
            Ok(batch) if !batch.is_empty() => {
                let entries: Vec<NewEntry> = batch
                    .into_iter()
                    .map(|(seq, data)| NewEntry {
                        kind: warden_kit::ledger::EntryKind::ApprovalEvent,
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
    for witness in witnesses.iter_mut() {
        if let Err(message) = witness.cosign_latest(store, signer).await {
            eprintln!("warden evidence: witness {}: {message}", witness.config.url);
        }
    }
    Ok(appended)
}

/// The log's side of `tlog-witness` for one witness: what it last cosigned (learned from its
/// answers, so a restart costs one 409 round trip).
#[derive(Debug, Clone)]
pub struct WitnessClient {
    /// Configuration.
    pub config: crate::config::WitnessConfig,
    verifier: crate::core::cosign::WitnessVerifier,
    known_size: u64,
}

impl WitnessClient {
    /// A client for `config` (its key already validated at start).
    pub fn new(config: crate::config::WitnessConfig) -> Result<Self, String> {
        let verifier = crate::core::cosign::WitnessVerifier::new(&config.key).map_err(|e| e.to_string())?;
        Ok(WitnessClient { config, verifier, known_size: 0 })
    }

    /// Asks the witness to cosign the newest checkpoint (unless it already did) and stores the
    /// cosignature once it verifies. Errors say why (the checkpoint stays as it was).
    pub async fn cosign_latest(&mut self, store: &Store, log: &LogSigner) -> Result<bool, String> {
        let latest = store.latest_checkpoint().await.map_err(|e| e.to_string())?.ok_or("no checkpoint yet")?;
        let marker = format!("\n— {} ", self.verifier.name());
        if latest.note.contains(&marker) {
            return Ok(false);
        }
        for _ in 0..2 {
            let old = self.known_size.min(latest.size);
            let proof = if old == 0 || old == latest.size {
                Vec::new()
            } else {
                store.consistency_proof(old, latest.size).await.map_err(|e| e.to_string())?
            };
            let body = crate::core::witness::request(old, &proof, latest.note.as_bytes());
            let url = format!("{}/add-checkpoint", self.config.url.trim_end_matches('/'));
            let (status, answer) =
                tokio::task::spawn_blocking(move || post(&url, body)).await.map_err(|e| e.to_string())??;
            match status {
                200 => {
                    let cosigned = format!("{}{}", latest.note, String::from_utf8_lossy(&answer));
                    let log_verifier =
                        crate::core::checkpoint::LogVerifier::new(&log.vkey()).map_err(|e| e.to_string())?;
                    crate::core::checkpoint::open(
                        cosigned.as_bytes(),
                        &log_verifier,
                        std::slice::from_ref(&self.verifier),
                        1,
                    )
                    .map_err(|e| format!("the witness's answer does not verify: {e}"))?;
                    store.store_cosigned(latest.size, &cosigned).await.map_err(|e| e.to_string())?;
                    self.known_size = latest.size;
                    return Ok(true);
                }
                409 => {
                    self.known_size = String::from_utf8_lossy(&answer)
                        .trim()
                        .parse()
                        .map_err(|_| "409 without the witness's size".to_string())?;
                }
                other => return Err(format!("the witness answered {other}: {}", String::from_utf8_lossy(&answer))),
            }
        }
        Err("the witness's size kept changing".into())
    }
}

/// `POST url` with `body` (blocking): the status and the body (at most 64 KiB).
fn post(url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
    let agent = warden_service_shared::http_client::agent(Some(std::time::Duration::from_secs(10)));
    let mut response =
        agent.post(url).header("content-type", "text/plain").send(&body[..]).map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(|e| e.to_string())?;
    Ok((status, bytes))
}
