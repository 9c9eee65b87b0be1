//! A verified person at the approval service, and who among them may decide an approval.

use crate::core::approval::Approval;
use serde::Serialize;
use warden_kit::facts::{IdentityFact, SubjectKind};

/// Someone who authenticated to the service with a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approver {
    /// The subject the token names (what `users` in a requirement lists).
    pub subject: String,
    /// The issuer of the verified token.
    pub issuer: String,
    /// Kind, as the identity provider configuration classifies the token.
    pub kind: SubjectKind,
    /// Whether the token carries a delegation claim (`act`, `may_act`: someone acting for
    /// the subject).
    pub delegated: bool,
    /// Groups the token carries (matched against a requirement's `groups`).
    pub groups: Vec<String>,
}

impl Approver {
    /// The approver an identity fact describes.
    pub fn from_identity(fact: &IdentityFact) -> Approver {
        Approver {
            subject: fact.subject.clone(),
            issuer: fact.issuer.clone(),
            kind: fact.kind,
            delegated: !fact.actors.is_empty(),
            groups: fact.groups.clone(),
        }
    }
}

/// Why someone may not decide an approval. There is no exemption from any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    /// Agents and services never decide.
    #[error("only a person may decide an approval (this identity is an agent or a service)")]
    NotHuman,
    /// A token with a delegation claim (`act`, `may_act`: someone acting for another) never
    /// decides.
    #[error("a delegated token (with an `act` or `may_act` claim) cannot decide an approval")]
    Delegated,
    /// The requester, or anyone in the request's actor chain.
    #[error("nobody may decide their own request (requester or actor chain)")]
    OwnRequest,
    /// Not among the approvers the rule names (nor in the break-glass group, for a forced
    /// decision).
    #[error("not among the approvers this request names")]
    NotNamed,
}

/// The bars every decision passes: a person, acting for themselves, not involved in the
/// request.
fn may_take_part(who: &Approver, approval: &Approval) -> Result<(), Ineligible> {
    if who.kind != SubjectKind::Human {
        return Err(Ineligible::NotHuman);
    }
    if who.delegated {
        return Err(Ineligible::Delegated);
    }
    if approval.requester.involves(&who.subject) {
        return Err(Ineligible::OwnRequest);
    }
    Ok(())
}

/// Whether `who` may vote on `approval`: the bars above, and named by the rule (as a user or
/// a member of one of its groups). Returns the rule's groups `who` is in.
pub fn may_vote(who: &Approver, approval: &Approval) -> Result<Vec<String>, Ineligible> {
    may_take_part(who, approval)?;
    let requirement = &approval.requirement;
    let groups: Vec<String> = requirement.groups.iter().filter(|g| who.groups.contains(g)).cloned().collect();
    if groups.is_empty() && !requirement.users.contains(&who.subject) {
        return Err(Ineligible::NotNamed);
    }
    Ok(groups)
}

/// Whether `who` may force a decision (break-glass): the bars above, and a member of the
/// configured break-glass group. `None`: break-glass is not configured.
pub fn may_force(who: &Approver, approval: &Approval, break_glass_group: Option<&str>) -> Result<(), Ineligible> {
    may_take_part(who, approval)?;
    match break_glass_group {
        Some(group) if who.groups.iter().any(|g| g == group) => Ok(()),
        _ => Err(Ineligible::NotNamed),
    }
}
