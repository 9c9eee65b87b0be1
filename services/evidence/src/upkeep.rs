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

/// Why a witness did not cosign the newest checkpoint (the checkpoint stays as it was).
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The witness's configured key is not a valid note verifier key.
    #[error("{0}")]
    Key(#[from] crate::core::keys::KeyError),
    /// The ledger's database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Nothing to cosign yet.
    #[error("no checkpoint yet")]
    NoCheckpoint,
    /// The witness could not be reached or its answer read.
    #[error("{0}")]
    Transport(String),
    /// The witness's cosignature does not verify.
    #[error("the witness's answer does not verify: {0}")]
    Unverified(String),
    /// The witness refused (status and its answer's text).
    #[error("the witness answered {status}: {answer}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The answer, as text.
        answer: String,
    },
    /// A 409 without the size the witness knows.
    #[error("409 without the witness's size")]
    NoSize,
    /// The witness's size changed under every retry.
    #[error("the witness's size kept changing")]
    Unsettled,
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
    pub fn new(config: crate::config::WitnessConfig) -> Result<Self, WitnessError> {
        let verifier = crate::core::cosign::WitnessVerifier::new(&config.key)?;
        Ok(WitnessClient { config, verifier, known_size: 0 })
    }

    /// Asks the witness to cosign the newest checkpoint (unless it already did) and stores the
    /// cosignature once it verifies. Errors say why (the checkpoint stays as it was).
    pub async fn cosign_latest(&mut self, store: &Store, log: &LogSigner) -> Result<bool, WitnessError> {
        let latest = store.latest_checkpoint().await?.ok_or(WitnessError::NoCheckpoint)?;
        let marker = format!("\n— {} ", self.verifier.name());
        if latest.note.contains(&marker) {
            return Ok(false);
        }
        for _ in 0..2 {
            let old = self.known_size.min(latest.size);
            let proof = if old == 0 || old == latest.size {
                Vec::new()
            } else {
                store.consistency_proof(old, latest.size).await?
            };
            let body = crate::core::witness::request(old, &proof, latest.note.as_bytes());
            let url = format!("{}/add-checkpoint", self.config.url.trim_end_matches('/'));
            let (status, answer) = tokio::task::spawn_blocking(move || post(&url, body))
                .await
                .map_err(|e| WitnessError::Transport(e.to_string()))??;
            match status {
                200 => {
                    let cosigned = format!("{}{}", latest.note, String::from_utf8_lossy(&answer));
                    let log_verifier = crate::core::checkpoint::LogVerifier::new(&log.vkey())
                        .map_err(|e| WitnessError::Unverified(e.to_string()))?;
                    crate::core::checkpoint::open(
                        cosigned.as_bytes(),
                        &log_verifier,
                        std::slice::from_ref(&self.verifier),
                        1,
                    )
                    .map_err(|e| WitnessError::Unverified(e.to_string()))?;
                    store.store_cosigned(latest.size, &cosigned).await?;
                    self.known_size = latest.size;
                    return Ok(true);
                }
                409 => {
                    self.known_size =
                        String::from_utf8_lossy(&answer).trim().parse().map_err(|_| WitnessError::NoSize)?;
                }
                status => {
                    let answer = String::from_utf8_lossy(&answer).into_owned();
                    return Err(WitnessError::Refused { status, answer });
                }
            }
        }
        Err(WitnessError::Unsettled)
    }
}

/// `POST url` with `body` (blocking): the status and the body (at most 64 KiB).
fn post(url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), WitnessError> {
    let agent = warden_service_shared::http_client::agent(Some(std::time::Duration::from_secs(10)));
    let mut response = agent
        .post(url)
        .header("content-type", "text/plain")
        .send(&body[..])
        .map_err(|e| WitnessError::Transport(format!("POST {url}: {e}")))?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .map_err(|e| WitnessError::Transport(e.to_string()))?;
    Ok((status, bytes))
}
