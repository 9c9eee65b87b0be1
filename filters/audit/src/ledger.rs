//! Shipping records to the evidence ledger from each VM: a bounded buffer, one batch in
//! flight at a time (so each stream reaches the ledger in order), sent on a timer, retried
//! with exponential backoff while the ledger is down. When the buffer is full a record is
//! dropped and counted, and a `gap` record saying how many goes out as soon as there is room:
//! a loss is always visible, never silent.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use warden_kit::{Callout, CalloutResponse, ConfigError};

/// The `ledger` section as written.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Envoy cluster of `warden serve`.
    pub cluster: String,
    /// Host header. Default: the cluster name.
    #[serde(default)]
    pub authority: Option<String>,
    /// Path. Default `/v1/records`.
    #[serde(default)]
    pub path: Option<String>,
    /// The proxy's bearer key (one of `warden serve`'s `proxies`). Never logged.
    pub key: String,
    /// Records per batch. Default 500.
    #[serde(default)]
    pub batch_records: Option<usize>,
    /// Records buffered per VM before new ones are dropped (and counted). Default 20000.
    #[serde(default)]
    pub buffer_records: Option<usize>,
    /// How often a batch is sent, milliseconds. Default 100.
    #[serde(default)]
    pub flush_ms: Option<u64>,
    /// Callout timeout, milliseconds. Default 5000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Longest wait between retries, milliseconds. Default 30000.
    #[serde(default)]
    pub max_backoff_ms: Option<u64>,
}

/// The compiled ledger settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Ledger {
    cluster: String,
    authority: String,
    path: String,
    authorization: String,
    /// Records per batch.
    pub batch_records: usize,
    /// Buffer bound.
    pub buffer_records: usize,
    /// Flush period.
    pub flush: Duration,
    timeout: Duration,
    max_backoff: Duration,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("cluster", &self.cluster).field("path", &self.path).finish_non_exhaustive()
    }
}

impl Ledger {
    /// `POST` of NDJSON `body` to the ledger, tagged `tag`.
    pub fn callout(&self, body: Vec<u8>, tag: &str) -> Callout {
        Callout {
            cluster: self.cluster.clone(),
            method: "POST".into(),
            path: self.path.clone(),
            authority: self.authority.clone(),
            headers: vec![
                ("authorization".into(), self.authorization.clone()),
                ("content-type".into(), "application/x-ndjson".into()),
            ],
            body,
            timeout: self.timeout,
            tag: tag.into(),
        }
    }

    /// Validates the section; errors name the field (never the key's value).
    pub fn compile(config: LedgerConfig) -> Result<Ledger, ConfigError> {
        if config.cluster.is_empty() {
            return Err(ConfigError::new("cluster", "name the Envoy cluster of `warden serve`"));
        }
        if config.key.is_empty() {
            return Err(ConfigError::new("key", "the proxy key `warden serve` knows (proxies[].key_sha256)"));
        }
        let path = config.path.unwrap_or_else(|| "/v1/records".into());
        if !path.starts_with('/') {
            return Err(ConfigError::new("path", "a path starts with /"));
        }
        let batch_records = config.batch_records.unwrap_or(500);
        if !(1..=10_000).contains(&batch_records) {
            return Err(ConfigError::new("batch_records", "between 1 and 10000"));
        }
        let buffer_records = config.buffer_records.unwrap_or(20_000);
        if buffer_records < batch_records || buffer_records > 1_000_000 {
            return Err(ConfigError::new("buffer_records", "at least batch_records, at most 1000000"));
        }
        let flush_ms = config.flush_ms.unwrap_or(100);
        if !(10..=60_000).contains(&flush_ms) {
            return Err(ConfigError::new("flush_ms", "between 10 and 60000"));
        }
        Ok(Ledger {
            authority: config.authority.unwrap_or_else(|| config.cluster.clone()),
            cluster: config.cluster,
            path,
            authorization: format!("Bearer {}", config.key),
            batch_records,
            buffer_records,
            flush: Duration::from_millis(flush_ms),
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(5000).clamp(1, 60_000)),
            max_backoff: Duration::from_millis(config.max_backoff_ms.unwrap_or(30_000).clamp(100, 600_000)),
        })
    }
}

/// Callout tag of a batch.
pub const TAG: &str = "audit:ledger";

/// What happened to a batch, for the stage's logs and stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The ledger took `records`.
    Delivered(usize),
    /// The ledger refused them for good (400, 409): dropped, and logged.
    Refused(u16, usize),
    /// The ledger did not answer well (5xx, timeout): kept, retried after a backoff.
    Retrying(u16),
}

/// One VM's buffer of sealed records on their way to the ledger.
#[derive(Debug, Default)]
pub struct Shipper {
    buffer: VecDeque<Arc<[u8]>>,
    in_flight: Option<usize>,
    /// Records dropped (buffer full) and not yet reported by a gap record.
    pub dropped: u64,
    failures: u32,
    retry_at: Option<SystemTime>,
}

impl Shipper {
    /// Records waiting (the batch in flight included).
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Whether another record fits.
    pub fn has_room(&self, ledger: &Ledger) -> bool {
        self.buffer.len() < ledger.buffer_records
    }

    /// Queues a sealed record, or counts it dropped when the buffer is full (false).
    pub fn push(&mut self, ledger: &Ledger, record: impl Into<Arc<[u8]>>) -> bool {
        if self.has_room(ledger) {
            self.buffer.push_back(record.into());
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Ends a running backoff: the next batch may go at once (the instance is ending).
    pub fn skip_backoff(&mut self) {
        self.retry_at = None;
    }

    /// The next batch to send at `now`, if none is in flight and no backoff is running.
    pub fn next_batch(&mut self, ledger: &Ledger, now: SystemTime) -> Option<Callout> {
        if self.in_flight.is_some() || self.buffer.is_empty() || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        let count = self.buffer.len().min(ledger.batch_records);
        let mut body = Vec::with_capacity(self.buffer.iter().take(count).map(|r| r.len() + 1).sum());
        for record in self.buffer.iter().take(count) {
            body.extend_from_slice(record);
            body.push(b'\n');
        }
        self.in_flight = Some(count);
        Some(ledger.callout(body, TAG))
    }

    /// The ledger's answer to the batch in flight.
    pub fn answered(&mut self, ledger: &Ledger, response: &CalloutResponse, now: SystemTime) -> Delivery {
        let count = self.in_flight.take().unwrap_or(0);
        match response.status {
            200..=299 => {
                self.buffer.drain(..count.min(self.buffer.len()));
                self.failures = 0;
                self.retry_at = None;
                Delivery::Delivered(count)
            }
            400 | 409 | 413 => {
                // Retrying cannot help; keeping it would stop every later record. The records
                // count as dropped, so a gap record reports them.
                self.buffer.drain(..count.min(self.buffer.len()));
                self.dropped += u64::try_from(count).unwrap_or(u64::MAX);
                Delivery::Refused(response.status, count)
            }
            status => {
                self.failures = self.failures.saturating_add(1);
                let backoff = Duration::from_millis(100u64.saturating_mul(1 << self.failures.min(16)));
                self.retry_at = Some(now + backoff.min(ledger.max_backoff));
                Delivery::Retrying(status)
            }
        }
    }
}
