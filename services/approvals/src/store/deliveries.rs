//! The outbox of notifications to people's channels: one row per (channel, event), enqueued
//! from the event log once whatever replica gets there first (a unique key makes a second
//! enqueue a no-op), claimed by a conditional update (one replica sends it), retried with
//! backoff, and given up on after the configured attempts with a `delivery_failed` event in
//! the approval's history.

use super::{append, rows, Origin, Store, StoreError};
use crate::core::event::{Event, EventKind};
use sqlx::Row;

/// A delivery to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// Configured channel name.
    pub channel: String,
    /// The approval.
    pub approval_id: String,
    /// Event type (`approval.created`, ...).
    pub kind: String,
    /// What to send (the channel's own format, built at enqueue time).
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// A delivery to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Channel name.
    pub channel: String,
    /// Event type.
    pub kind: String,
    /// Body.
    pub body: String,
}

/// How a claimed delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel accepted it.
    Delivered,
    /// It failed; try again at `retry_at` (seconds since the epoch), or give up when `None`.
    Failed {
        /// Why (no secret: never a URL with a token in it).
        error: String,
        /// When to try again.
        retry_at: Option<u64>,
    },
}

/// How long a claim lasts before another replica may take the delivery over, seconds.
pub const CLAIM_SECS: u64 = 60;

impl Store {
    /// The events not yet turned into deliveries, and the cursor they follow.
    pub async fn undelivered_events(&self, limit: i64) -> Result<(i64, Vec<Event>), StoreError> {
        let cursor: i64 =
            sqlx::query("SELECT seq FROM delivery_cursor WHERE id = 1").fetch_one(&self.pool).await?.try_get("seq")?;
        Ok((cursor, self.events(cursor, limit).await?))
    }

    /// Enqueues `deliveries` (each for `event_seq`) and moves the cursor from `from` to `to`,
    /// in one transaction. Deliveries already enqueued (by another replica) are left as they
    /// are; a cursor moved meanwhile is not moved back.
    pub async fn enqueue(
        &self,
        from: i64,
        to: i64,
        deliveries: &[(i64, String, NewDelivery)],
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (seq, approval_id, d) in deliveries {
            sqlx::query(
                "INSERT INTO deliveries (channel, event_seq, approval_id, kind, body, attempts, next_at, status) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, 'pending') ON CONFLICT (channel, event_seq) DO NOTHING",
            )
            .bind(&d.channel)
            .bind(*seq)
            .bind(approval_id)
            .bind(&d.kind)
            .bind(&d.body)
            .bind(rows::int(now))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE delivery_cursor SET seq = $1 WHERE id = 1 AND seq = $2")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` deliveries due at `now` (each for [`CLAIM_SECS`]; a replica that
    /// dies while sending leaves it to be taken over).
    pub async fn claim_due(&self, now: u64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, approval_id, kind, body, attempts, next_at FROM deliveries \
             WHERE status = 'pending' AND next_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(rows::int(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let next_at: i64 = row.try_get("next_at")?;
            let taken =
                sqlx::query("UPDATE deliveries SET next_at = $1 WHERE id = $2 AND next_at = $3 AND status = 'pending'")
                    .bind(rows::int(now + CLAIM_SECS))
                    .bind(id)
                    .bind(next_at)
                    .execute(&self.pool)
                    .await?;
            if taken.rows_affected() == 1 {
                let attempts: i64 = row.try_get("attempts")?;
                claimed.push(Delivery {
                    id,
                    channel: row.try_get("channel")?,
                    approval_id: row.try_get("approval_id")?,
                    kind: row.try_get("kind")?,
                    body: row.try_get("body")?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                });
            }
        }
        Ok(claimed)
    }

    /// Records how a claimed delivery ended; giving up appends `delivery_failed` to the
    /// approval's history (and so to the evidence ledger).
    pub async fn finish(&self, delivery: &Delivery, outcome: &Outcome, now: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let attempts = i64::from(delivery.attempts) + 1;
        match outcome {
            Outcome::Delivered => {
                sqlx::query(
                    "UPDATE deliveries SET status = 'delivered', attempts = $1, last_error = NULL WHERE id = $2",
                )
                .bind(attempts)
                .bind(delivery.id)
                .execute(&mut *tx)
                .await?;
            }
            Outcome::Failed { error, retry_at: Some(at) } => {
                sqlx::query("UPDATE deliveries SET attempts = $1, next_at = $2, last_error = $3 WHERE id = $4")
                    .bind(attempts)
                    .bind(rows::int(*at))
                    .bind(error)
                    .bind(delivery.id)
                    .execute(&mut *tx)
                    .await?;
            }
            Outcome::Failed { error, retry_at: None } => {
                sqlx::query("UPDATE deliveries SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3")
                    .bind(attempts)
                    .bind(error)
                    .bind(delivery.id)
                    .execute(&mut *tx)
                    .await?;
                let origin = Origin { actor: crate::core::EventActor::Service, source: None };
                let detail = serde_json::json!({"channel": delivery.channel, "notice": delivery.kind,
                                                "attempts": attempts, "error": error});
                append(&mut tx, &delivery.approval_id, now, &origin, EventKind::DeliveryFailed, detail).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Approvals by stored status: what operators watch.
    pub async fn approval_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM approvals GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Deliveries by status (`pending`, `delivered`, `failed`): what operators watch.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, status, COUNT(*) AS n FROM deliveries GROUP BY channel, status ORDER BY channel, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("channel")?, r.try_get("status")?, r.try_get("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
