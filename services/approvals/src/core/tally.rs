//! Votes and how they add up: distinct humans, every required group, a deny threshold.

use crate::core::approval::Requirement;
use std::collections::BTreeSet;
pub use warden_kit::approval_api::{Vote, VoteDecision};

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
