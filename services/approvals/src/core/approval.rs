//! The approval record: one action by one requester, with its requirement and timers.

use crate::core::tally::Vote;
use serde::{Deserialize, Serialize};
use warden_kit::facts::{Actor, SubjectKind};

/// Who asked for the action, as the proxy verified them (`warden.identity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// Subject of the request (the person or workload it is for).
    pub subject: String,
    /// Issuer of the credential.
    pub issuer: String,
    /// Kind of subject.
    pub kind: SubjectKind,
    /// Delegation chain (agents acting for the subject), outermost first.
    #[serde(default)]
    pub actors: Vec<Actor>,
}

impl Requester {
    /// Whether `subject` is the requester or anyone in its actor chain.
    pub fn involves(&self, subject: &str) -> bool {
        self.subject == subject || self.actors.iter().any(|a| a.subject == subject)
    }
}

/// What the action is, as shown to approvers (no secrets: no headers; the body only masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// HTTP method.
    pub method: String,
    /// Authority (host).
    pub authority: String,
    /// Normalized path and query.
    pub path: String,
    /// MCP tool name, for `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Ids of the policy rules that asked for approval.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The rules' reasons.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Policy version that decided.
    #[serde(default)]
    pub policy: String,
    /// MCP argument names of the tool call (never their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// SQL the policy read: statement classes and tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlSummary>,
    /// The start of the request body, as stored: masked by the service's preview profile
    /// before it is stored (the proxy's unmasked text is never kept), at most the preview's
    /// `max_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The proxy sent only the body's start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// What masking hid in `body`, by type.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub body_masked: std::collections::BTreeMap<String, u64>,
}

/// SQL statement classes and tables (as the policy classified them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSummary {
    /// Classes (`read`, `write`, `delete`, `ddl`, ...).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Tables.
    #[serde(default)]
    pub tables: Vec<String>,
}

/// Who must approve and within what time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Groups whose members may approve.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Subjects who may approve.
    #[serde(default)]
    pub users: Vec<String>,
    /// Distinct humans who must approve (at least 1).
    #[serde(default = "one")]
    pub min_approvals: u32,
    /// Every listed group must have at least one approving member (besides `min_approvals`).
    #[serde(default)]
    pub all_groups: bool,
    /// Deny votes that end the approval (default 1: any eligible approver's deny).
    #[serde(default = "one")]
    pub deny_threshold: u32,
    /// Seconds to decide in (`pending_ttl`).
    pub pending_ttl_secs: u64,
    /// Seconds an approval may be used in once approved (`use_by`).
    pub use_by_secs: u64,
    /// Step-up: only decisions from a sign-in within this many seconds count (web logins
    /// prove it; channels that cannot are refused). `None`: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_auth_age_secs: Option<u64>,
}

fn one() -> u32 {
    1
}

/// Where an approval is in its life. Decided, expired and consumed approvals are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for approvers.
    Pending,
    /// Approved and not yet used.
    Approved,
    /// Denied.
    Denied,
    /// Not decided by `decide_by`, or not used by `use_by`.
    Expired,
    /// Approved and used once.
    Consumed,
    /// Withdrawn by the requester or the proxy before a decision.
    Cancelled,
}

impl Status {
    /// The name stored and shown (`pending`, `approved`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
            Status::Consumed => "consumed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Status> {
        [Status::Pending, Status::Approved, Status::Denied, Status::Expired, Status::Consumed, Status::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One approval as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Id (`apr_` and 26 base32 characters, random).
    pub id: String,
    /// Action digest (`sha256:` and 64 hex), computed by the proxy.
    pub digest: String,
    /// Who asked.
    pub requester: Requester,
    /// What for.
    pub action: Action,
    /// Who must approve.
    pub requirement: Requirement,
    /// Stored status (see [`Approval::status_at`] for the status at a time).
    pub status: Status,
    /// Created, seconds since the epoch.
    pub created_at: u64,
    /// Decide by (`created_at + pending_ttl`).
    pub decide_by: u64,
    /// When decided.
    #[serde(default)]
    pub decided_at: Option<u64>,
    /// Use by (`decided_at + use_by`), once approved.
    #[serde(default)]
    pub use_by: Option<u64>,
    /// When consumed.
    #[serde(default)]
    pub consumed_at: Option<u64>,
    /// Decided by break-glass.
    #[serde(default)]
    pub forced: bool,
    /// The deciding reason (a deny's or a forced decision's).
    #[serde(default)]
    pub reason: Option<String>,
    /// Votes so far, in order.
    #[serde(default)]
    pub votes: Vec<Vote>,
}

impl Approval {
    /// The status at `now`: a pending approval past `decide_by`, or an approved one past
    /// `use_by`, is expired.
    pub fn status_at(&self, now: u64) -> Status {
        match self.status {
            Status::Pending if now >= self.decide_by => Status::Expired,
            Status::Approved if self.use_by.is_some_and(|u| now >= u) => Status::Expired,
            other => other,
        }
    }
}
