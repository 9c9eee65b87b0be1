//! The approval event log: every state change, who made it, when and from where. The evidence
//! ledger reads it; entries are only ever appended.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The proxy asked for an approval.
    Created,
    /// A person voted (detail: decision, reason, forced).
    Voted,
    /// The votes decided it approved.
    Approved,
    /// The votes decided it denied.
    Denied,
    /// A break-glass decision.
    Forced,
    /// The proxy used it.
    Consumed,
    /// A use was refused (detail: the code).
    ConsumeRefused,
    /// Withdrawn.
    Cancelled,
    /// Not decided or not used in time (recorded when first noticed).
    Expired,
    /// A notification to a channel (webhook, Teams, Slack) was given up on after its retries
    /// (detail: channel, notice, attempts, error).
    DeliveryFailed,
    /// A decision from a chat channel was refused (detail: channel, chat user, reason).
    VoteRefused,
}

impl EventKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Voted => "voted",
            EventKind::Approved => "approved",
            EventKind::Denied => "denied",
            EventKind::Forced => "forced",
            EventKind::Consumed => "consumed",
            EventKind::ConsumeRefused => "consume_refused",
            EventKind::Cancelled => "cancelled",
            EventKind::Expired => "expired",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::VoteRefused => "vote_refused",
        }
    }
}

/// One entry of the log, as stored and served (`GET /v1/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log (increasing; assigned by the database).
    pub seq: i64,
    /// Approval.
    pub approval_id: String,
    /// When, seconds since the epoch.
    pub at: u64,
    /// Who: `person:<subject>` or `proxy:<name>` or `service` (timers).
    pub actor: String,
    /// What.
    pub kind: String,
    /// Details (no secrets: never a token or header).
    pub detail: serde_json::Value,
    /// The caller's address, when it came from the network.
    pub source: Option<String>,
}
