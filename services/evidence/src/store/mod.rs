//! The ledger's storage: entries, the Merkle tree's stored hashes, the head (tree size) and
//! signed checkpoints, in SQLite (embedded, the default) or PostgreSQL (several replicas).
//!
//! Appends are one transaction each, serialized by a lock on the head row (PostgreSQL) or by
//! SQLite's single writer, so replicas never fork the log: every checkpoint is computed from
//! the committed, append-only tree, and two checkpoints of the same size are the same.

mod migrations;

use crate::core::checkpoint::{CheckpointError, LogSigner};
use crate::core::merkle::{self, from_hex, hex, Hash, MerkleError, StoredHashes};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::BTreeMap;

pub use warden_service_shared::db::Backend;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    /// Stored data does not add up (a damaged database; HTTP 500).
    #[error("the ledger's storage is inconsistent: {0}")]
    Corrupt(String),
    /// An entry with the same stream and sequence number but other bytes is already in the
    /// log (a replayed or forged record; HTTP 409). Nothing of its batch was appended.
    #[error("stream {stream} already has a different entry {seq}")]
    Conflict {
        /// Stream.
        stream: String,
        /// Sequence number.
        seq: u64,
    },
    /// A size or index out of range (HTTP 400).
    #[error("{0}")]
    Range(String),
    /// A checkpoint could not be signed.
    #[error("cannot sign a checkpoint: {0}")]
    Sign(#[from] CheckpointError),
}

impl From<warden_service_shared::db::MigrateError> for StoreError {
    fn from(err: warden_service_shared::db::MigrateError) -> StoreError {
        match err {
            warden_service_shared::db::MigrateError::Database(e) => StoreError::Unavailable(e),
            misnumbered => StoreError::Unavailable(sqlx::Error::Configuration(misnumbered.to_string().into())),
        }
    }
}

impl From<MerkleError> for StoreError {
    fn from(error: MerkleError) -> Self {
        match error {
            MerkleError::OutOfRange(message) => StoreError::Range(message),
            other => StoreError::Corrupt(other.to_string()),
        }
    }
}

pub use crate::core::entry::NewEntry;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Entries added.
    pub appended: u64,
    /// Entries already in the log with the same bytes (a retried batch), skipped.
    pub duplicates: u64,
    /// Tree size after the append.
    pub size: u64,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root.
    pub root: Hash,
    /// The signed note (with any cosignatures added since).
    pub note: String,
}

/// The ledger's storage.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Stored hashes fetched ahead of a computation.
struct Fetched(BTreeMap<u64, Hash>);

impl StoredHashes for Fetched {
    fn read(&self, indexes: &[u64]) -> Result<Vec<Hash>, MerkleError> {
        indexes.iter().map(|i| self.0.get(i).copied().ok_or(MerkleError::Missing(*i))).collect()
    }
}

/// Reads the stored hashes at `indexes` (those not in `overlay`).
async fn fetch_hashes(
    conn: &mut AnyConnection,
    indexes: &[u64],
    overlay: &BTreeMap<u64, Hash>,
) -> Result<BTreeMap<u64, Hash>, StoreError> {
    let mut found = BTreeMap::new();
    let missing: Vec<u64> = indexes.iter().copied().filter(|i| !overlay.contains_key(i)).collect();
    for chunk in missing.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT idx, hash FROM evidence_hashes WHERE idx IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql);
        for i in chunk {
            query = query.bind(int(*i));
        }
        for row in query.fetch_all(&mut *conn).await? {
            let idx = uint(row.try_get("idx")?);
            let text: String = row.try_get("hash")?;
            let hash =
                from_hex(&text).ok_or_else(|| StoreError::Corrupt(format!("stored hash {idx} is not a hash")))?;
            found.insert(idx, hash);
        }
    }
    for i in indexes {
        if let Some(hash) = overlay.get(i) {
            found.insert(*i, *hash);
        }
    }
    Ok(found)
}

/// Entries already logged under the streams and sequence numbers of `entries` (one query per
/// stream, over the batch's range of sequence numbers), by (stream, seq).
async fn logged_entries(
    conn: &mut AnyConnection,
    entries: &[NewEntry],
) -> Result<BTreeMap<(String, u64), String>, StoreError> {
    let mut ranges: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for e in entries {
        let range = ranges.entry(e.stream.as_str()).or_insert((e.seq, e.seq));
        range.0 = range.0.min(e.seq);
        range.1 = range.1.max(e.seq);
    }
    let mut logged = BTreeMap::new();
    for (stream, (low, high)) in ranges {
        let rows = sqlx::query("SELECT seq, data FROM evidence_entries WHERE stream = $1 AND seq >= $2 AND seq <= $3")
            .bind(stream)
            .bind(int(low))
            .bind(int(high))
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            logged.insert((stream.to_string(), uint(row.try_get("seq")?)), row.try_get("data")?);
        }
    }
    Ok(logged)
}

/// Runs a tree computation on stored hashes: learns which it reads, fetches them, runs it.
async fn on_tree<T>(
    conn: &mut AnyConnection,
    overlay: &BTreeMap<u64, Hash>,
    compute: impl Fn(&dyn StoredHashes) -> Result<T, MerkleError>,
) -> Result<T, StoreError> {
    let indexes = merkle::needed(&compute);
    let fetched = fetch_hashes(conn, &indexes, overlay).await?;
    Ok(compute(&Fetched(fetched))?)
}

impl Store {
    /// Connects to `sqlite://<file>` (created if absent) or `postgres://...`, and migrates.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (pool, backend, _) = warden_service_shared::db::connect(url).await?;
        Store::on_pool(pool, backend).await
    }

    /// The ledger on another service's connection pool (same database), migrated. With SQLite
    /// this is how two services share one file: one writer connection, no lock contention.
    pub async fn on_pool(pool: AnyPool, backend: Backend) -> Result<Store, StoreError> {
        migrations::SCHEMA.migrate(&pool, backend).await?;
        Ok(Store { pool, backend })
    }

    /// The database kind.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Appends `entries` in order, in one transaction: all or nothing. An entry whose stream
    /// and sequence number are already in the log with the same bytes is skipped (a retried
    /// batch); with other bytes the whole batch is refused ([`StoreError::Conflict`]).
    pub async fn append(&self, entries: &[NewEntry], now_secs: u64) -> Result<Appended, StoreError> {
        let mut tx = self.pool.begin().await?;
        let head_query = match self.backend {
            Backend::Postgres => "SELECT size FROM evidence_head WHERE id = 1 FOR UPDATE",
            Backend::Sqlite => "SELECT size FROM evidence_head WHERE id = 1",
        };
        let start = uint(sqlx::query(head_query).fetch_one(&mut *tx).await?.try_get("size")?);
        let logged = logged_entries(&mut tx, entries).await?;
        let mut size = start;
        let mut overlay: BTreeMap<u64, Hash> = BTreeMap::new();
        let mut in_batch: BTreeMap<(&str, u64), &str> = BTreeMap::new();
        let mut new_entries: Vec<(u64, &NewEntry)> = Vec::new();
        let mut new_hashes: Vec<(u64, Hash)> = Vec::new();
        let mut duplicates = 0;
        for entry in entries {
            let key = (entry.stream.as_str(), entry.seq);
            let seen = in_batch
                .get(&key)
                .copied()
                .or_else(|| logged.get(&(entry.stream.clone(), entry.seq)).map(String::as_str));
            if let Some(data) = seen {
                if data != entry.data {
                    return Err(StoreError::Conflict { stream: entry.stream.clone(), seq: entry.seq });
                }
                duplicates += 1;
                continue;
            }
            in_batch.insert(key, entry.data.as_str());
            let leaf = merkle::leaf_hash(entry.data.as_bytes());
            let index = size;
            let new = on_tree(&mut tx, &overlay, |s| merkle::hashes_to_append(index, leaf, s)).await?;
            let first = tlog_tiles::stored_hash_count(index);
            for (offset, hash) in (0u64..).zip(new) {
                overlay.insert(first + offset, hash);
                new_hashes.push((first + offset, hash));
            }
            new_entries.push((index, entry));
            size += 1;
        }
        // Many rows per statement: one round trip per 100 entries, per 400 hashes.
        for chunk in new_entries.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        6 * i + 1,
                        6 * i + 2,
                        6 * i + 3,
                        6 * i + 4,
                        6 * i + 5,
                        6 * i + 6
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO evidence_entries (idx, kind, stream, seq, data, received_at) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (index, entry) in chunk {
                query = query
                    .bind(int(*index))
                    .bind(entry.kind.as_str())
                    .bind(&entry.stream)
                    .bind(int(entry.seq))
                    .bind(&entry.data)
                    .bind(int(now_secs));
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in new_hashes.chunks(400) {
            let rows: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
            let sql = format!("INSERT INTO evidence_hashes (idx, hash) VALUES {}", rows.join(", "));
            let mut query = sqlx::query(&sql);
            for (index, hash) in chunk {
                query = query.bind(int(*index)).bind(hex(hash));
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE evidence_head SET size = $1 WHERE id = 1").bind(int(size)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Appended { appended: size - start, duplicates, size })
    }

    /// The highest sequence number of `stream` in the log, if it has any entry.
    pub async fn last_seq(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM evidence_entries WHERE stream = $1")
            .bind(stream)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("seq")?.map(uint))
    }

    /// The tree size.
    pub async fn size(&self) -> Result<u64, StoreError> {
        Ok(uint(
            sqlx::query("SELECT size FROM evidence_head WHERE id = 1").fetch_one(&self.pool).await?.try_get("size")?,
        ))
    }

    /// Entries `from..to` (leaf index, canonical bytes), in order.
    pub async fn entries(&self, from: u64, to: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let rows = sqlx::query("SELECT idx, data FROM evidence_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
            .bind(int(from))
            .bind(int(to))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((uint(r.try_get("idx")?), r.try_get("data")?))).collect()
    }

    /// The stored hashes at `indexes` (for exports: what a verifier needs of the tree before
    /// the exported range).
    pub async fn stored_hashes(&self, indexes: &[u64]) -> Result<BTreeMap<u64, Hash>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch_hashes(&mut conn, indexes, &BTreeMap::new()).await
    }

    async fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let current = self.size().await?;
        if size > current {
            return Err(StoreError::Range(format!("the log has {current} entries, not {size}")));
        }
        Ok(())
    }

    /// The root of the first `size` entries.
    pub async fn root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_size(size).await?;
        let mut conn = self.pool.acquire().await?;
        on_tree(&mut conn, &BTreeMap::new(), |s| merkle::root(size, s)).await
    }

    /// Proof that entry `index` is in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size).await?;
        let mut conn = self.pool.acquire().await?;
        on_tree(&mut conn, &BTreeMap::new(), |s| merkle::inclusion_proof(index, size, s)).await
    }

    /// Proof that the tree of `old` entries is a prefix of the tree of `new` entries.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new).await?;
        let mut conn = self.pool.acquire().await?;
        on_tree(&mut conn, &BTreeMap::new(), |s| merkle::consistency_proof(old, new, s)).await
    }

    /// The newest checkpoint, signing one first when the log has grown since (or has none).
    /// Two replicas signing at once store one checkpoint per size, and it is the same tree.
    pub async fn checkpoint(&self, signer: &LogSigner, now_secs: u64) -> Result<StoredCheckpoint, StoreError> {
        let size = self.size().await?;
        if let Some(latest) = self.latest_checkpoint().await? {
            if latest.size == size {
                return Ok(latest);
            }
        }
        let root = self.root(size).await?;
        let note = String::from_utf8(signer.sign(size, root)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO evidence_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING",
        )
        .bind(int(size))
        .bind(hex(&root))
        .bind(&note)
        .bind(int(now_secs))
        .execute(&self.pool)
        .await?;
        self.checkpoint_at(size).await?.ok_or_else(|| StoreError::Corrupt("checkpoint vanished".into()))
    }

    /// Replaces the note of the checkpoint of `size` (same text, more cosignatures).
    pub async fn store_cosigned(&self, size: u64, note: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE evidence_checkpoints SET note = $1 WHERE size = $2")
            .bind(note)
            .bind(int(size))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest stored checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| checkpoint_row(&r)).transpose()
    }

    /// The checkpoint of `size`, if one was signed.
    pub async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints WHERE size = $1")
            .bind(int(size))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| checkpoint_row(&r)).transpose()
    }

    /// The newest checkpoint of at most `size` entries.
    pub async fn checkpoint_at_most(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note FROM evidence_checkpoints WHERE size <= $1 ORDER BY size DESC LIMIT 1",
        )
        .bind(int(size))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| checkpoint_row(&r)).transpose()
    }

    /// Stores a policy document by its version (`sha256:...`); storing it again is a no-op.
    pub async fn put_policy(&self, version: &str, document: &str, now_secs: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO evidence_policies (version, document, received_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(document)
        .bind(int(now_secs))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The policy document of `version`, if stored.
    pub async fn policy(&self, version: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT document FROM evidence_policies WHERE version = $1")
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("document")).transpose()?)
    }
}

fn checkpoint_row(row: &sqlx::any::AnyRow) -> Result<StoredCheckpoint, StoreError> {
    let root: String = row.try_get("root")?;
    Ok(StoredCheckpoint {
        size: uint(row.try_get("size")?),
        root: from_hex(&root).ok_or_else(|| StoreError::Corrupt("a checkpoint root is not a hash".into()))?,
        note: row.try_get("note")?,
    })
}
