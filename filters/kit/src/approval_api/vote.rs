//! Decisions: one person's vote, and the bodies that cast one.

use serde::{Deserialize, Serialize};

/// What one person said.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteDecision {
    /// Let the action through.
    Approve,
    /// Refuse it.
    Deny,
}

impl VoteDecision {
    /// The name stored and shown (`approve`, `deny`).
    pub fn as_str(self) -> &'static str {
        match self {
            VoteDecision::Approve => "approve",
            VoteDecision::Deny => "deny",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(name: &str) -> Option<VoteDecision> {
        [VoteDecision::Approve, VoteDecision::Deny].into_iter().find(|d| d.as_str() == name)
    }
}

/// One person's vote on one approval (at most one per subject).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Subject of the person, as their sign-in or token named them.
    pub subject: String,
    /// Issuer of that sign-in or token.
    pub issuer: String,
    /// Approve or deny.
    pub decision: VoteDecision,
    /// Why (required for a deny and for a forced decision).
    #[serde(default)]
    pub reason: Option<String>,
    /// The requirement's groups the person was in when voting.
    #[serde(default)]
    pub groups: Vec<String>,
    /// When, seconds since the epoch.
    pub at: u64,
    /// A break-glass decision.
    #[serde(default)]
    pub forced: bool,
}

/// Body of `approve` and `deny` (may be empty for `approve`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// Why; required to deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub reason: Option<String>,
}

/// Body of a break-glass decision (`force`): members of the service's break-glass group only.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceBody {
    /// Approve or deny.
    pub decision: VoteDecision,
    /// Why (required).
    #[cfg_attr(feature = "schema", schemars(length(max = 1024)))]
    pub reason: String,
}
