//! The approval: what the proxy asks for ([`CreateApproval`]) and what the service answers
//! ([`ApprovalView`]).

use super::vote::Vote;
use crate::facts::{Actor, SubjectKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who asked for the action, as the proxy verified them (`warden.identity`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// Subject of the request: the person or workload it is for. Must not be empty.
    pub subject: String,
    /// Issuer of the credential the proxy verified.
    pub issuer: String,
    /// Whether the subject is a person, an agent or a service.
    pub kind: SubjectKind,
    /// Delegation chain (agents acting for the subject), outermost first; empty when the
    /// subject acts alone.
    #[serde(default)]
    pub actors: Vec<Actor>,
}

impl Requester {
    /// Whether `subject` is the requester or anyone in its actor chain.
    pub fn involves(&self, subject: &str) -> bool {
        self.subject == subject || self.actors.iter().any(|a| a.subject == subject)
    }
}

/// What the action is, as shown to approvers: no headers, never argument values, the body only
/// as the service's preview masked it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// HTTP method (`POST`).
    pub method: String,
    /// Authority (host) the request was for.
    pub authority: String,
    /// Normalized path and query, sensitive query values masked.
    pub path: String,
    /// MCP tool name, for `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Ids of the policy rules that asked for approval.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Those rules' reasons, one line each.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Version (`sha256:…`) of the policy that decided.
    #[serde(default)]
    pub policy: String,
    /// MCP argument names of the tool call (never their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    /// SQL statement classes and tables the policy read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlSummary>,
    /// The start of the request body. The proxy sends it unmasked; the service masks it with
    /// its preview profile before it is stored or shown, so answers carry the masked text, at
    /// most the preview's `max_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The proxy sent only the body's start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// What masking hid in `body`, by type (answers only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body_masked: BTreeMap<String, u64>,
}

/// SQL statement classes and tables, as the policy classified them.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSummary {
    /// Statement classes (`read`, `write`, `ddl`, `dcl`).
    #[serde(default)]
    pub classes: Vec<crate::facts::SqlClass>,
    /// Tables (lowercase, unqualified).
    #[serde(default)]
    pub tables: Vec<String>,
}

/// Who must approve and within what time. The policy compiles it from a rule's `approval`
/// (it is also the `warden.decision` fact's `approval`, with the proxy's own settings beside
/// it) and the service enforces it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Groups whose members may approve.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Subjects who may approve (with `groups`: members of either may).
    #[serde(default)]
    pub users: Vec<String>,
    /// Distinct people who must approve. Default 1.
    #[serde(default = "one")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub min_approvals: u32,
    /// Every listed group must also have at least one approving member. Default false.
    #[serde(default)]
    pub all_groups: bool,
    /// Distinct people whose deny ends the approval. Default 1: any eligible approver's.
    #[serde(default = "one")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub deny_threshold: u32,
    /// Seconds approvers have to decide (the policy's `ttl_secs`; the service caps it at
    /// its `max_pending_ttl_secs`).
    #[serde(alias = "ttl_secs")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub pending_ttl_secs: u64,
    /// Seconds an approval may be used in once approved (the service caps it at its
    /// `max_use_by_secs`).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub use_by_secs: u64,
    /// Step-up: only decisions from a sign-in within this many seconds count (web logins
    /// prove it; other channels are refused with 403 `step_up_required`). Absent: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub max_auth_age_secs: Option<u64>,
}

fn one() -> u32 {
    1
}

/// `POST /v1/approvals`: the proxy asks for an approval of one action by one requester.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApproval {
    /// Action digest the proxy computed: `sha256:` and 64 lowercase hex digits.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$")))]
    pub digest: String,
    /// Who asked.
    pub requester: Requester,
    /// What for.
    pub action: Action,
    /// Who must approve, within what time.
    pub requirement: Requirement,
}

/// Where an approval is in its life. Decided, expired and consumed approvals are kept.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Every status, in the order of the life of an approval.
    pub const ALL: [Status; 6] =
        [Status::Pending, Status::Approved, Status::Denied, Status::Expired, Status::Consumed, Status::Cancelled];

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

    /// Parses a stored name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One approval as the service stores it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Id: `apr_` and 26 base32 characters, random.
    pub id: String,
    /// Action digest (`sha256:` and 64 hex), computed by the proxy.
    pub digest: String,
    /// Who asked.
    pub requester: Requester,
    /// What for.
    pub action: Action,
    /// Who must approve.
    pub requirement: Requirement,
    /// Status (stored; answers give the status at the time of the answer, see
    /// [`Approval::status_at`]).
    pub status: Status,
    /// Created, seconds since the epoch.
    pub created_at: u64,
    /// Decide by (`created_at + pending_ttl_secs`), seconds since the epoch.
    pub decide_by: u64,
    /// When decided, seconds since the epoch.
    #[serde(default)]
    pub decided_at: Option<u64>,
    /// Use by (`decided_at + use_by_secs`), once approved.
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

/// An approval as answered: its status at the time of the answer, and where to read it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// The approval, `status` as of the answer.
    #[serde(flatten)]
    pub approval: Approval,
    /// Where the caller can read it (`<public_url>/v1/approvals/<id>`).
    pub status_url: String,
}

impl ApprovalView {
    /// `approval` as answered at `now`, readable at `public_url`.
    pub fn at(approval: &Approval, now: u64, public_url: &str) -> ApprovalView {
        let mut shown = approval.clone();
        shown.status = approval.status_at(now);
        ApprovalView { status_url: format!("{public_url}/v1/approvals/{}", approval.id), approval: shown }
    }
}

/// `GET /v1/approvals`: the pending approvals the caller may decide (a proxy: all).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalList {
    /// Oldest first, at most 500.
    pub approvals: Vec<ApprovalView>,
}
