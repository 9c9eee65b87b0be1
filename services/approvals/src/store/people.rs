//! People as their identity provider verified them at their last web login (by email, for
//! matching a chat user's verified email), where each approval's Slack message is, and refused
//! chat decisions in an approval's history.

use super::{append, rows, Origin, Store, StoreError};
use crate::core::approver::Approver;
use crate::core::event::EventKind;
use sqlx::Row;
use warden_kit::facts::SubjectKind;

impl Store {
    /// Remembers a person's verified email, groups and whether the sign-in was delegated
    /// (replacing the last login's).
    pub async fn remember_person(&self, person: &Approver, email: &str, now: u64) -> Result<(), StoreError> {
        let kind =
            serde_json::to_value(person.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        sqlx::query(
            "INSERT INTO people (issuer, subject, email, kind, groups, login_at, delegated) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (issuer, subject) \
             DO UPDATE SET email = $3, kind = $4, groups = $5, login_at = $6, delegated = $7",
        )
        .bind(&person.issuer)
        .bind(&person.subject)
        .bind(email.to_lowercase())
        .bind(kind)
        .bind(rows::json(&person.groups))
        .bind(rows::int(now))
        .bind(i64::from(person.delegated))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The people whose last login carried this verified email (case-insensitive).
    pub async fn people_by_email(&self, email: &str) -> Result<Vec<Approver>, StoreError> {
        let rows = sqlx::query("SELECT issuer, subject, kind, groups, delegated FROM people WHERE email = $1")
            .bind(email.to_lowercase())
            .fetch_all(&self.pool)
            .await?;
        let mut people = Vec::new();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let groups: String = row.try_get("groups")?;
            let delegated: i64 = row.try_get("delegated")?;
            people.push(Approver {
                issuer: row.try_get("issuer")?,
                subject: row.try_get("subject")?,
                kind: serde_json::from_value(serde_json::Value::String(kind)).unwrap_or(SubjectKind::Service),
                // Anything but a recorded 0 (acting for themselves) counts as delegated.
                delegated: delegated != 0,
                groups: serde_json::from_str(&groups).unwrap_or_default(),
            });
        }
        Ok(people)
    }

    /// Records where an approval's message in a Slack channel is.
    pub async fn remember_slack_message(
        &self,
        approval_id: &str,
        channel_name: &str,
        channel: &str,
        ts: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO slack_messages (approval_id, channel_name, channel, ts) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (approval_id, channel_name) DO UPDATE SET channel = $3, ts = $4",
        )
        .bind(approval_id)
        .bind(channel_name)
        .bind(channel)
        .bind(ts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Where an approval's Slack message is (channel id, ts), if one was posted.
    pub async fn slack_message(
        &self,
        approval_id: &str,
        channel_name: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT channel, ts FROM slack_messages WHERE approval_id = $1 AND channel_name = $2")
            .bind(approval_id)
            .bind(channel_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some((row.try_get("channel")?, row.try_get("ts")?)),
            None => None,
        })
    }

    /// One approval's history, in order.
    pub async fn history(&self, approval_id: &str) -> Result<Vec<crate::core::event::Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, approval_id, at, actor, kind, detail, source FROM events WHERE approval_id = $1 ORDER BY seq LIMIT 200",
        )
        .bind(approval_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::event).collect()
    }

    /// Appends a refused chat decision to the approval's history.
    pub async fn record_refused_vote(
        &self,
        approval_id: &str,
        detail: serde_json::Value,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let origin = Origin { actor: crate::core::EventActor::Service, source: None };
        append(&mut tx, approval_id, now, &origin, EventKind::VoteRefused, detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
