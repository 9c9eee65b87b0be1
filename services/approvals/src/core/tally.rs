//! Votes and how they add up: distinct humans, every required group, a deny threshold.

use crate::core::approval::Requirement;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What one person said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteDecision {
    /// Approve.
    Approve,
    /// Deny.
    Deny,
}

impl VoteDecision {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteDecision::Approve => "approve",
            VoteDecision::Deny => "deny",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<VoteDecision> {
        match name {
            "approve" => Some(VoteDecision::Approve),
            "deny" => Some(VoteDecision::Deny),
            _ => None,
        }
    }
}

/// One person's vote on one approval (at most one per subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Subject of the person.
    pub subject: String,
    /// Issuer of their token.
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

/// What the votes decide under `requirement`, if anything yet. A forced vote decides alone;
/// otherwise `deny_threshold` distinct deniers deny, and `min_approvals` distinct approvers
/// (covering every group when `all_groups`) approve. Deny is checked first.
pub fn outcome(requirement: &Requirement, votes: &[Vote]) -> Option<VoteDecision> {
    if let Some(forced) = votes.iter().find(|v| v.forced) {
        return Some(forced.decision);
    }
    let people = |decision| votes.iter().filter(move |v: &&Vote| v.decision == decision);
    let deniers: BTreeSet<&str> = people(VoteDecision::Deny).map(|v| v.subject.as_str()).collect();
    if deniers.len() as u64 >= u64::from(requirement.deny_threshold.max(1)) {
        return Some(VoteDecision::Deny);
    }
    let approvers: BTreeSet<&str> = people(VoteDecision::Approve).map(|v| v.subject.as_str()).collect();
    let enough = approvers.len() as u64 >= u64::from(requirement.min_approvals.max(1));
    let groups_covered = !requirement.all_groups
        || requirement.groups.iter().all(|g| people(VoteDecision::Approve).any(|v| v.groups.contains(g)));
    (enough && groups_covered).then_some(VoteDecision::Approve)
}
