//! Storage of approvals, votes and the event log: SQLite (embedded, the default) or PostgreSQL
//! (several replicas), through one set of portable queries. Every change is one transaction:
//! nothing is half-written. Using an approval is one conditional update, so exactly one of
//! many concurrent attempts wins, on one replica or several.

pub mod deliveries;
mod migrations;
mod notify;
mod people;
mod rows;

use crate::core::approval::{Action, Approval, Requester, Requirement, Status};
use crate::core::approver::Approver;
use crate::core::consume::{refusal, ConsumeRefusal, ConsumeRequest};
use crate::core::decide::{vote, DecideError, VoteRequest};
use crate::core::event::{Event, EventActor, EventKind};
use crate::core::receipt::{receipt_of, Signer};
use crate::core::SignedReceipt;
pub use notify::Waker;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::time::Duration;

pub use warden_service_shared::db::Backend;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    /// A stored value could not be read back (HTTP 500).
    #[error("stored approval {0} is unreadable: {1}")]
    Corrupt(String, String),
    /// No such approval.
    #[error("no such approval")]
    NotFound,
    /// A vote was refused.
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// A decision could not be signed.
    #[error("cannot sign the receipt: {0}")]
    Sign(String),
}

impl From<warden_service_shared::db::MigrateError> for StoreError {
    fn from(err: warden_service_shared::db::MigrateError) -> StoreError {
        match err {
            warden_service_shared::db::MigrateError::Database(e) => StoreError::Unavailable(e),
            misnumbered => StoreError::Unavailable(sqlx::Error::Configuration(misnumbered.to_string().into())),
        }
    }
}

/// Where a change came from, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Who made the change.
    pub actor: EventActor,
    /// The caller's address.
    pub source: Option<String>,
}

/// An approval the proxy asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    /// Action digest.
    pub digest: String,
    /// Who asked.
    pub requester: Requester,
    /// What for.
    pub action: Action,
    /// Who must approve.
    pub requirement: Requirement,
}

/// A person's vote as it reaches the store.
#[derive(Debug, Clone)]
pub struct Ballot<'a> {
    /// Who votes (verified).
    pub who: &'a Approver,
    /// What they say.
    pub request: VoteRequest,
    /// Their address.
    pub source: Option<String>,
    /// Where they decided: `api` (the JSON API, e.g. `warden approvals`), `web`, `slack`.
    pub channel: &'static str,
    /// When they last authenticated (a web login's `auth_time`), if known.
    pub auth_time: Option<u64>,
}

/// What a decision is made and signed with: the service's key and break-glass group.
#[derive(Debug)]
pub struct DecisionRules {
    /// Signs each decision's receipt.
    pub signer: Signer,
    /// Members of this group may force a decision (none: break-glass is off).
    pub break_glass_group: Option<String>,
}

/// The storage handle (cheap to clone).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    waker: Waker,
}

/// How often a waiter re-reads an approval even without a wake.
pub const RECHECK: Duration = Duration::from_secs(2);

/// Tries a transaction that lost a race (another replica changed the row) this many times.
const OPTIMISTIC_RETRIES: usize = 5;

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://...`), creating a SQLite file if
    /// absent, and brings the schema up to date. For PostgreSQL it also listens for decisions
    /// made by other replicas.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (pool, backend, url) = warden_service_shared::db::connect(url).await?;
        migrations::SCHEMA.migrate(&pool, backend).await?;
        let waker = Waker::new();
        if backend == Backend::Postgres {
            waker.listen_postgres(&url).await?;
        }
        Ok(Store { pool, backend, waker })
    }

    /// The database kind.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for another service sharing the database (`warden serve` runs the
    /// evidence ledger on it: with SQLite, one writer connection for both).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Decisions and uses of approvals, as they happen (on any replica).
    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Creates an approval, or returns the pending one for the same action by the same
    /// requester (`false`: it existed).
    pub async fn create(
        &self,
        new: NewApproval,
        id: String,
        now: u64,
        origin: &Origin,
    ) -> Result<(Approval, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        // A pending approval past its time no longer counts as the pending one.
        self.expire_in(&mut tx, now, Some((&new.digest, &new.requester))).await?;
        if let Some(existing) = self.find_pending(&mut tx, &new.digest, &new.requester).await? {
            tx.commit().await?;
            return Ok((existing, false));
        }
        let approval = Approval {
            id,
            digest: new.digest,
            requester: new.requester,
            action: new.action,
            decide_by: now.saturating_add(new.requirement.pending_ttl_secs),
            requirement: new.requirement,
            status: Status::Pending,
            created_at: now,
            decided_at: None,
            use_by: None,
            consumed_at: None,
            forced: false,
            reason: None,
            votes: Vec::new(),
        };
        let inserted = sqlx::query(
            "INSERT INTO approvals (id, digest, requester_subject, requester_issuer, requester, action, requirement, \
             status, created_at, decide_by, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10)",
        )
        .bind(&approval.id)
        .bind(&approval.digest)
        .bind(&approval.requester.subject)
        .bind(&approval.requester.issuer)
        .bind(rows::json(&approval.requester))
        .bind(rows::json(&approval.action))
        .bind(rows::json(&approval.requirement))
        .bind(rows::int(approval.created_at))
        .bind(rows::int(approval.decide_by))
        .bind(origin.actor.to_stored())
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            // Another replica created the same pending approval a moment ago.
            drop(tx);
            if is_unique_violation(&err) {
                let mut tx = self.pool.begin().await?;
                if let Some(existing) = self.find_pending(&mut tx, &approval.digest, &approval.requester).await? {
                    return Ok((existing, false));
                }
            }
            return Err(err.into());
        }
        let detail = json!({"digest": approval.digest, "action": approval.action, "requirement": approval.requirement,
            "requester": {"subject": approval.requester.subject, "issuer": approval.requester.issuer}});
        append(&mut tx, &approval.id, now, origin, EventKind::Created, detail).await?;
        tx.commit().await?;
        Ok((approval, true))
    }

    /// The approval `id` with its votes.
    pub async fn get(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        rows::load(&mut conn, id).await
    }

    /// Waits up to `max` for approval `id` to leave `pending` (woken by a change on any
    /// replica; re-read every [`RECHECK`] in case a wake was missed), then returns it as it is.
    pub async fn wait(&self, id: &str, max: Duration) -> Result<Option<Approval>, StoreError> {
        let deadline = tokio::time::Instant::now() + max;
        let mut changes = self.waker.subscribe();
        loop {
            let approval = self.get(id).await?;
            let pending = approval.as_ref().is_some_and(|a| a.status_at(crate::unix_now()) == Status::Pending);
            let now = tokio::time::Instant::now();
            if !pending || now >= deadline {
                return Ok(approval);
            }
            let until = deadline.min(now + RECHECK);
            loop {
                match tokio::time::timeout_at(until, changes.recv()).await {
                    Ok(Ok(changed)) if changed != id => continue,
                    _ => break, // this approval changed, a wake was missed, or time to re-read
                }
            }
        }
    }

    /// Pending approvals, oldest first (at most `limit`).
    pub async fn pending(&self, now: u64, limit: i64) -> Result<Vec<Approval>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM approvals WHERE status = 'pending' AND decide_by > $1 ORDER BY created_at, id LIMIT $2",
        )
        .bind(rows::int(now))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = rows::load(&mut conn, &id).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Records `who`'s vote; signs the receipt when it decides. Retries when another
    /// replica's vote landed between the read and the write.
    pub async fn vote(
        &self,
        id: &str,
        ballot: Ballot<'_>,
        now: u64,
        rules: &DecisionRules,
    ) -> Result<Approval, StoreError> {
        let Ballot { who, request, source, channel, auth_time } = ballot;
        let (signer, break_glass_group) = (&rules.signer, rules.break_glass_group.as_deref());
        let origin = Origin { actor: EventActor::Person { subject: who.subject.clone() }, source };
        for _ in 0..OPTIMISTIC_RETRIES {
            let mut tx = self.pool.begin().await?;
            // The version first: a change after it makes the conditional update below miss.
            let Some(version) = rows::version(&mut tx, id).await? else { return Err(StoreError::NotFound) };
            let Some(before) = rows::load(&mut tx, id).await? else { return Err(StoreError::NotFound) };
            crate::core::decide::step_up(&before, auth_time, now)?;
            let change = vote(&before, who, request.clone(), now, break_glass_group)?;
            let after = &change.after;
            let receipt = match change.decided.then(|| receipt_of(after)).flatten() {
                Some(receipt) => Some(signer.sign(receipt).map_err(|e| StoreError::Sign(e.to_string()))?),
                None => None,
            };
            let updated = sqlx::query(
                "UPDATE approvals SET status = $1, decided_at = $2, use_by = $3, forced = $4, reason = $5, receipt = $6, \
                 version = version + 1 WHERE id = $7 AND version = $8",
            )
            .bind(after.status.as_str())
            .bind(after.decided_at.map(rows::int))
            .bind(after.use_by.map(rows::int))
            .bind(i64::from(after.forced))
            .bind(after.reason.clone())
            .bind(receipt.as_ref().map(rows::json))
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                continue; // lost the race: read again
            }
            let v = &change.vote;
            let position = i64::try_from(before.votes.len()).unwrap_or(i64::MAX);
            sqlx::query(
                "INSERT INTO votes (approval_id, subject, issuer, decision, reason, groups, at, forced, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(&v.subject)
            .bind(&v.issuer)
            .bind(v.decision.as_str())
            .bind(v.reason.clone())
            .bind(rows::json(&v.groups))
            .bind(rows::int(v.at))
            .bind(i64::from(v.forced))
            .bind(position)
            .execute(&mut *tx)
            .await?;
            let kind = if v.forced { EventKind::Forced } else { EventKind::Voted };
            append(
                &mut tx,
                id,
                now,
                &origin,
                kind,
                json!({"decision": v.decision, "reason": v.reason, "groups": v.groups, "channel": channel,
                       "issuer": who.issuer, "auth_time": auth_time}),
            )
            .await?;
            if change.decided {
                let kind = if after.status == Status::Approved { EventKind::Approved } else { EventKind::Denied };
                append(&mut tx, id, now, &origin, kind, json!({"forced": after.forced, "use_by": after.use_by}))
                    .await?;
            }
            self.waker.announce_in(&mut tx, self.backend, id).await?;
            tx.commit().await?;
            self.waker.announce_local(id);
            return Ok(change.after);
        }
        Err(StoreError::Unavailable(sqlx::Error::Protocol("too much contention on one approval; try again".into())))
    }

    /// Uses approval `id` for the request in hand: one conditional update (approved, same
    /// digest, same requester, not expired, not used). Returns the signed receipt, or why not.
    pub async fn consume(
        &self,
        id: &str,
        request: &ConsumeRequest,
        now: u64,
        origin: &Origin,
    ) -> Result<Result<(Approval, SignedReceipt), ConsumeRefusal>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let used = sqlx::query(
            "UPDATE approvals SET status = 'consumed', consumed_at = $1, version = version + 1 \
             WHERE id = $2 AND status = 'approved' AND digest = $3 AND requester_subject = $4 \
             AND requester_issuer = $5 AND use_by > $1",
        )
        .bind(rows::int(now))
        .bind(id)
        .bind(&request.digest)
        .bind(&request.subject)
        .bind(&request.issuer)
        .execute(&mut *tx)
        .await?;
        let approval = rows::load(&mut tx, id).await?;
        if used.rows_affected() == 1 {
            let approval = approval.ok_or(StoreError::NotFound)?;
            let receipt = rows::receipt(&mut tx, id).await?;
            append(&mut tx, id, now, origin, EventKind::Consumed, json!({"digest": request.digest})).await?;
            self.waker.announce_in(&mut tx, self.backend, id).await?;
            tx.commit().await?;
            self.waker.announce_local(id);
            return Ok(Ok((approval, receipt)));
        }
        let why = refusal(approval.as_ref(), request, now).unwrap_or(ConsumeRefusal::ApprovalUsed);
        if approval.is_some() {
            append(
                &mut tx,
                id,
                now,
                origin,
                EventKind::ConsumeRefused,
                json!({"code": why.code(), "digest": request.digest}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Err(why))
    }

    /// Withdraws a pending approval. Returns the approval after the change, or `None` if it
    /// was no longer pending.
    pub async fn cancel(&self, id: &str, now: u64, origin: &Origin) -> Result<Option<Approval>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE approvals SET status = 'cancelled', decided_at = $1, version = version + 1 \
             WHERE id = $2 AND status = 'pending' AND decide_by > $1",
        )
        .bind(rows::int(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        append(&mut tx, id, now, origin, EventKind::Cancelled, json!({})).await?;
        self.waker.announce_in(&mut tx, self.backend, id).await?;
        let approval = rows::load(&mut tx, id).await?;
        tx.commit().await?;
        self.waker.announce_local(id);
        Ok(approval)
    }

    /// Marks approvals past their time as expired, with an event each. Returns how many.
    pub async fn expire_due(&self, now: u64) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids = self.expire_in(&mut tx, now, None).await?;
        tx.commit().await?;
        for id in &ids {
            self.waker.announce_local(id);
        }
        Ok(ids.len())
    }

    async fn expire_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        now: u64,
        only: Option<(&str, &Requester)>,
    ) -> Result<Vec<String>, StoreError> {
        let due = "((status = 'pending' AND decide_by <= $1) OR (status = 'approved' AND use_by <= $1))";
        let rows: Vec<AnyRow> = match only {
            Some((digest, requester)) => {
                sqlx::query(&format!(
                    "SELECT id, status FROM approvals WHERE {due} AND digest = $2 AND requester_subject = $3 AND requester_issuer = $4"
                ))
                .bind(rows::int(now))
                .bind(digest)
                .bind(&requester.subject)
                .bind(&requester.issuer)
                .fetch_all(&mut **tx)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT id, status FROM approvals WHERE {due} LIMIT 1000"))
                    .bind(rows::int(now))
                    .fetch_all(&mut **tx)
                    .await?
            }
        };
        let origin = Origin { actor: EventActor::Service, source: None };
        let mut ids = Vec::new();
        for row in rows {
            let id: String = row.try_get(0)?;
            let was: String = row.try_get(1)?;
            let done = sqlx::query(&format!(
                "UPDATE approvals SET status = 'expired', version = version + 1 WHERE id = $2 AND {due}"
            ))
            .bind(rows::int(now))
            .bind(&id)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 1 {
                append(tx, &id, now, &origin, EventKind::Expired, json!({"was": was})).await?;
                self.waker.announce_in(tx, self.backend, &id).await?;
                ids.push(id);
            }
        }
        Ok(ids)
    }

    async fn find_pending(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        digest: &str,
        requester: &Requester,
    ) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM approvals WHERE status = 'pending' AND digest = $1 AND requester_subject = $2 AND requester_issuer = $3",
        )
        .bind(digest)
        .bind(&requester.subject)
        .bind(&requester.issuer)
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(row) => rows::load(tx, &row.try_get::<String, _>(0)?).await,
            None => Ok(None),
        }
    }

    /// Events after `after` (exclusive), oldest first, at most `limit`.
    pub async fn events(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, approval_id, at, actor, kind, detail, source FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::event).collect()
    }
}

/// Appends one event in the transaction of the change it records.
async fn append(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    now: u64,
    origin: &Origin,
    kind: EventKind,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO events (approval_id, at, actor, kind, detail, source) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(rows::int(now))
        .bind(origin.actor.to_stored())
        .bind(kind.as_str())
        .bind(detail.to_string())
        .bind(origin.source.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
