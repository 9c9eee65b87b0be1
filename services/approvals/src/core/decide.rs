//! A person's vote on an approval, and the state change it makes.

use crate::core::approval::{Approval, Status};
use crate::core::approver::{may_force, may_vote, Approver, Ineligible};
use crate::core::tally::{outcome, Vote, VoteDecision};

/// A vote as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteRequest {
    /// Approve or deny.
    pub decision: VoteDecision,
    /// Why; required to deny and to force.
    pub reason: Option<String>,
    /// Break-glass: decide alone, as a member of the break-glass group.
    pub force: bool,
}

/// Why a vote was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The approval is no longer pending.
    #[error("the approval is {} and can no longer be decided", .0.as_str())]
    NotPending(Status),
    /// The person may not decide it.
    #[error(transparent)]
    Ineligible(#[from] Ineligible),
    /// The person already voted.
    #[error("you already decided this approval")]
    AlreadyVoted,
    /// A deny or a forced decision without a reason.
    #[error("a reason is required to deny or to force a decision")]
    ReasonRequired,
    /// The rule asks for a recent sign-in, and this one is older or unknown.
    #[error("this rule asks for a sign-in within {0} seconds: sign in again on the web page to decide")]
    StepUpRequired(u64),
}

/// Step-up: when the rule bounds the sign-in age, a decision needs a known sign-in time
/// (`auth_time`, from a web login) no older than the bound at `now`.
pub fn step_up(approval: &Approval, auth_time: Option<u64>, now: u64) -> Result<(), DecideError> {
    match approval.requirement.max_auth_age_secs {
        Some(max) if auth_time.is_none_or(|at| now.saturating_sub(at) > max) => Err(DecideError::StepUpRequired(max)),
        _ => Ok(()),
    }
}

/// Longest reason kept, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;

/// What a vote changes: the vote recorded and, when it decides, the new status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The vote to store.
    pub vote: Vote,
    /// The approval after the vote.
    pub after: Approval,
    /// Whether this vote decided the approval.
    pub decided: bool,
}

/// Applies `request` by `who` to `approval` at `now`.
pub fn vote(
    approval: &Approval,
    who: &Approver,
    request: VoteRequest,
    now: u64,
    break_glass_group: Option<&str>,
) -> Result<Transition, DecideError> {
    let status = approval.status_at(now);
    if status != Status::Pending {
        return Err(DecideError::NotPending(status));
    }
    let groups = if request.force {
        may_force(who, approval, break_glass_group)?;
        Vec::new()
    } else {
        may_vote(who, approval)?
    };
    let reason = request.reason.map(|r| truncate(r.trim())).filter(|r| !r.is_empty());
    if reason.is_none() && (request.force || request.decision == VoteDecision::Deny) {
        return Err(DecideError::ReasonRequired);
    }
    if approval.votes.iter().any(|v| v.subject == who.subject) {
        return Err(DecideError::AlreadyVoted);
    }
    let vote = Vote {
        subject: who.subject.clone(),
        issuer: who.issuer.clone(),
        decision: request.decision,
        reason,
        groups,
        at: now,
        forced: request.force,
    };
    let mut after = approval.clone();
    after.votes.push(vote.clone());
    let decided = match outcome(&after.requirement, &after.votes) {
        Some(decision) => {
            after.status = match decision {
                VoteDecision::Approve => Status::Approved,
                VoteDecision::Deny => Status::Denied,
            };
            after.decided_at = Some(now);
            after.use_by =
                (decision == VoteDecision::Approve).then(|| now.saturating_add(after.requirement.use_by_secs));
            after.forced = vote.forced;
            after.reason = vote.reason.clone().filter(|_| vote.forced || decision == VoteDecision::Deny);
            true
        }
        None => false,
    };
    Ok(Transition { vote, after, decided })
}

fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
