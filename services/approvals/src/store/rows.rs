//! Reading stored rows back into the core's types.

use super::StoreError;
use crate::core::approval::{Approval, Status};
use crate::core::event::{Event, EventActor, EventKind};
use crate::core::tally::{Vote, VoteDecision};
use crate::core::SignedReceipt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// JSON text of a stored value.
pub fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// A time as stored (seconds, clamped to `i64`).
pub fn int(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn secs(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

fn parse<T: DeserializeOwned>(id: &str, field: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(id.into(), format!("{field}: {e}")))
}

const COLUMNS: &str = "id, digest, requester, action, requirement, status, created_at, decide_by, decided_at, use_by, \
                       consumed_at, forced, reason";

/// Loads approval `id` and its votes.
pub async fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<Approval>, StoreError> {
    let Some(row) = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let mut approval = Approval {
        id: row.try_get("id")?,
        digest: row.try_get("digest")?,
        requester: parse(id, "requester", &row.try_get::<String, _>("requester")?)?,
        action: parse(id, "action", &row.try_get::<String, _>("action")?)?,
        requirement: parse(id, "requirement", &row.try_get::<String, _>("requirement")?)?,
        status: Status::parse(&status).ok_or_else(|| StoreError::Corrupt(id.into(), format!("status {status}")))?,
        created_at: secs(Some(row.try_get("created_at")?)).unwrap_or(0),
        decide_by: secs(Some(row.try_get("decide_by")?)).unwrap_or(0),
        decided_at: secs(row.try_get("decided_at")?),
        use_by: secs(row.try_get("use_by")?),
        consumed_at: secs(row.try_get("consumed_at")?),
        forced: row.try_get::<i64, _>("forced")? != 0,
        reason: row.try_get("reason")?,
        votes: Vec::new(),
    };
    let votes = sqlx::query(
        "SELECT subject, issuer, decision, reason, groups, at, forced FROM votes WHERE approval_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    for row in votes {
        let decision: String = row.try_get("decision")?;
        approval.votes.push(Vote {
            subject: row.try_get("subject")?,
            issuer: row.try_get("issuer")?,
            decision: VoteDecision::parse(&decision)
                .ok_or_else(|| StoreError::Corrupt(id.into(), format!("vote decision {decision}")))?,
            reason: row.try_get("reason")?,
            groups: parse(id, "vote groups", &row.try_get::<String, _>("groups")?)?,
            at: secs(Some(row.try_get("at")?)).unwrap_or(0),
            forced: row.try_get::<i64, _>("forced")? != 0,
        });
    }
    Ok(Some(approval))
}

/// The row version (changes with every update), `None` if there is no such approval.
pub async fn version(conn: &mut AnyConnection, id: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT version FROM approvals WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

/// The signed receipt stored with a decided approval.
pub async fn receipt(conn: &mut AnyConnection, id: &str) -> Result<SignedReceipt, StoreError> {
    let row = sqlx::query("SELECT receipt FROM approvals WHERE id = $1").bind(id).fetch_one(&mut *conn).await?;
    let text: Option<String> = row.try_get(0)?;
    parse(id, "receipt", text.as_deref().unwrap_or("null"))
}

/// One event row.
pub fn event(row: &AnyRow) -> Result<Event, StoreError> {
    let id: String = row.try_get("approval_id")?;
    let detail: String = row.try_get("detail")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        at: secs(Some(row.try_get("at")?)).unwrap_or(0),
        actor: {
            let actor: String = row.try_get("actor")?;
            EventActor::parse_stored(&actor).ok_or_else(|| StoreError::Corrupt(id.clone(), format!("actor {actor}")))?
        },
        kind: {
            let kind: String = row.try_get("kind")?;
            EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(id.clone(), format!("event kind {kind}")))?
        },
        detail: parse(&id, "event detail", &detail)?,
        source: row.try_get("source")?,
        approval_id: id,
    })
}
