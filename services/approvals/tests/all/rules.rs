//! Who may decide, how votes add up, timers, break-glass and consuming: the pure rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::*;
use proptest::prelude::*;
use warden_approval_service::core::approval::Status;
use warden_approval_service::core::approver::Ineligible;
use warden_approval_service::core::consume::{refusal, ConsumeRefusal, ConsumeRequest};
use warden_approval_service::core::decide::{vote, DecideError, VoteRequest};
use warden_approval_service::core::receipt::{receipt_of, verify, Signer};
use warden_approval_service::core::tally::VoteDecision;
use warden_kit::facts::SubjectKind;

fn approve() -> VoteRequest {
    VoteRequest { decision: VoteDecision::Approve, reason: None, force: false }
}

fn deny(reason: &str) -> VoteRequest {
    VoteRequest { decision: VoteDecision::Deny, reason: Some(reason.into()), force: false }
}

#[test]
fn one_approval_by_a_named_group_member_approves() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    let t = vote(&a, &person("bob", &["dba"]), approve(), T0 + 1, None).unwrap();
    assert!(t.decided);
    assert_eq!(t.after.status, Status::Approved);
    assert_eq!(t.after.use_by, Some(T0 + 1 + 300));
}

#[test]
fn nobody_approves_their_own_request_or_one_their_agent_made() {
    let a = approval(requester("alice", &["agent-7"]), requirement(&["dba"], &["alice", "agent-7"], 1));
    for who in ["alice", "agent-7"] {
        let err = vote(&a, &person(who, &["dba"]), approve(), T0, None).unwrap_err();
        assert_eq!(err, DecideError::Ineligible(Ineligible::OwnRequest), "{who}");
    }
}

#[test]
fn agents_services_and_delegated_tokens_never_decide() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    let mut agent = person("bot", &["dba"]);
    agent.kind = SubjectKind::Agent;
    assert_eq!(vote(&a, &agent, approve(), T0, None).unwrap_err(), DecideError::Ineligible(Ineligible::NotHuman));
    let mut service = person("svc", &["dba"]);
    service.kind = SubjectKind::Service;
    assert_eq!(vote(&a, &service, approve(), T0, None).unwrap_err(), DecideError::Ineligible(Ineligible::NotHuman));
    let mut delegated = person("carol", &["dba"]);
    delegated.delegated = true;
    assert_eq!(vote(&a, &delegated, approve(), T0, None).unwrap_err(), DecideError::Ineligible(Ineligible::Delegated));
}

#[test]
fn someone_not_named_cannot_vote() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &["dave"], 1));
    let err = vote(&a, &person("eve", &["admins"]), approve(), T0, None).unwrap_err();
    assert_eq!(err, DecideError::Ineligible(Ineligible::NotNamed));
    assert!(vote(&a, &person("dave", &[]), approve(), T0, None).is_ok(), "a named user needs no group");
}

#[test]
fn approvals_count_distinct_humans_even_across_groups() {
    let mut a = approval(requester("alice", &[]), requirement(&["dba", "sre"], &[], 2));
    let t = vote(&a, &person("bob", &["dba", "sre"]), approve(), T0, None).unwrap();
    assert!(!t.decided, "one person in two groups counts once");
    a = t.after;
    assert_eq!(vote(&a, &person("bob", &["dba", "sre"]), approve(), T0, None).unwrap_err(), DecideError::AlreadyVoted);
    let t = vote(&a, &person("carol", &["sre"]), approve(), T0, None).unwrap();
    assert!(t.decided);
    assert_eq!(t.after.status, Status::Approved);
}

#[test]
fn all_groups_needs_an_approver_from_each_group() {
    let mut req = requirement(&["dba", "security"], &[], 2);
    req.all_groups = true;
    let mut a = approval(requester("alice", &[]), req);
    a = vote(&a, &person("bob", &["dba"]), approve(), T0, None).unwrap().after;
    let t = vote(&a, &person("carol", &["dba"]), approve(), T0, None).unwrap();
    assert!(!t.decided, "two DBAs are not a DBA and security");
    let t = vote(&t.after, &person("sam", &["security"]), approve(), T0, None).unwrap();
    assert!(t.decided);
}

#[test]
fn any_deny_ends_it_by_default_and_a_threshold_can_require_more() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 2));
    let t = vote(&a, &person("bob", &["dba"]), deny("not during the freeze"), T0, None).unwrap();
    assert_eq!(t.after.status, Status::Denied);
    assert_eq!(t.after.reason.as_deref(), Some("not during the freeze"));

    let mut req = requirement(&["dba"], &[], 3);
    req.deny_threshold = 2;
    let a = approval(requester("alice", &[]), req);
    let t = vote(&a, &person("bob", &["dba"]), deny("no"), T0, None).unwrap();
    assert_eq!(t.after.status, Status::Pending);
    let t = vote(&t.after, &person("carol", &["dba"]), deny("no"), T0, None).unwrap();
    assert_eq!(t.after.status, Status::Denied);
}

#[test]
fn a_deny_needs_a_reason() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    let request = VoteRequest { decision: VoteDecision::Deny, reason: Some("  ".into()), force: false };
    assert_eq!(vote(&a, &person("bob", &["dba"]), request, T0, None).unwrap_err(), DecideError::ReasonRequired);
}

#[test]
fn timers_expire_an_undecided_and_an_unused_approval() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    assert_eq!(a.status_at(T0 + 599), Status::Pending);
    assert_eq!(a.status_at(T0 + 600), Status::Expired);
    assert_eq!(
        vote(&a, &person("bob", &["dba"]), approve(), T0 + 600, None).unwrap_err(),
        DecideError::NotPending(Status::Expired)
    );
    let approved = vote(&a, &person("bob", &["dba"]), approve(), T0 + 10, None).unwrap().after;
    assert_eq!(approved.status_at(T0 + 309), Status::Approved);
    assert_eq!(approved.status_at(T0 + 310), Status::Expired);
}

#[test]
fn break_glass_forces_with_a_reason_and_is_marked_forced() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 2));
    let force = VoteRequest { decision: VoteDecision::Approve, reason: Some("outage INC-42".into()), force: true };
    let oncall = person("olga", &["breakglass"]);
    assert_eq!(vote(&a, &oncall, force.clone(), T0, None).unwrap_err(), DecideError::Ineligible(Ineligible::NotNamed));
    assert_eq!(
        vote(&a, &person("olga", &["dba"]), force.clone(), T0, Some("breakglass")).unwrap_err(),
        DecideError::Ineligible(Ineligible::NotNamed)
    );
    let without_reason = VoteRequest { reason: None, ..force.clone() };
    assert_eq!(vote(&a, &oncall, without_reason, T0, Some("breakglass")).unwrap_err(), DecideError::ReasonRequired);
    let t = vote(&a, &oncall, force.clone(), T0, Some("breakglass")).unwrap();
    assert_eq!(t.after.status, Status::Approved);
    assert!(t.after.forced);
    assert_eq!(t.after.reason.as_deref(), Some("outage INC-42"));
    let own = approval(requester("olga", &[]), requirement(&["dba"], &[], 1));
    assert_eq!(
        vote(&own, &oncall, force, T0, Some("breakglass")).unwrap_err(),
        DecideError::Ineligible(Ineligible::OwnRequest),
        "break-glass has no exemption from the self-approval bar"
    );
}

#[test]
fn consuming_tells_each_refusal_apart_but_tells_another_requester_nothing() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    let mine = ConsumeRequest { digest: a.digest.clone(), subject: "alice".into(), issuer: a.requester.issuer.clone() };
    assert_eq!(refusal(Some(&a), &mine, T0), Some(ConsumeRefusal::ApprovalPending));
    let approved = vote(&a, &person("bob", &["dba"]), approve(), T0, None).unwrap().after;
    assert_eq!(refusal(Some(&approved), &mine, T0 + 1), None);
    assert_eq!(refusal(Some(&approved), &mine, T0 + 300), Some(ConsumeRefusal::ApprovalExpired));
    let changed = ConsumeRequest { digest: "sha256:other".into(), ..mine.clone() };
    assert_eq!(refusal(Some(&approved), &changed, T0 + 1), Some(ConsumeRefusal::ApprovalMismatch));
    let mallory = ConsumeRequest { subject: "mallory".into(), ..mine.clone() };
    let denied = vote(&a, &person("bob", &["dba"]), deny("no"), T0, None).unwrap().after;
    assert_eq!(refusal(Some(&denied), &mine, T0), Some(ConsumeRefusal::ApprovalDenied));
    assert_eq!(refusal(Some(&denied), &mallory, T0), Some(ConsumeRefusal::ApprovalMismatch));
    assert_eq!(refusal(None, &mine, T0), Some(ConsumeRefusal::ApprovalMismatch));
}

#[test]
fn a_decision_receipt_verifies_and_any_change_breaks_it() {
    let a = approval(requester("alice", &[]), requirement(&["dba"], &[], 1));
    let approved = vote(&a, &person("bob", &["dba"]), approve(), T0, None).unwrap().after;
    let signer = Signer::from_seed([7; 32]);
    let signed = signer.sign(receipt_of(&approved).unwrap()).unwrap();
    assert!(verify(&signer.public_key(), &signed));
    assert_eq!(signed.receipt.deciders[0].subject, "bob");
    let mut forged = signed.clone();
    forged.receipt.digest = "sha256:other".into();
    assert!(!verify(&signer.public_key(), &forged));
    assert!(!verify(&Signer::from_seed([8; 32]).public_key(), &signed), "another key");
    assert!(receipt_of(&a).is_none(), "no receipt before a decision");
}

proptest! {
    /// Whatever the actor chain and whoever votes, nobody in the request's chain ever counts
    /// towards its approval, and a decision needs min_approvals people outside it.
    #[test]
    fn no_self_approval_under_any_actor_chain(
        chain in proptest::collection::vec(0usize..6, 0..4),
        voters in proptest::collection::vec(0usize..6, 1..8),
        min in 1u32..3,
    ) {
        let names = ["alice", "bob", "carol", "dave", "erin", "frank"];
        let actors: Vec<&str> = chain.iter().map(|i| names[*i]).collect();
        let req = requester("alice", &actors);
        let mut a = approval(req.clone(), requirement(&["dba"], &names, min));
        for v in voters {
            if let Ok(t) = vote(&a, &person(names[v], &["dba"]), approve(), T0, None) {
                prop_assert!(!req.involves(names[v]), "{} is in the chain yet voted", names[v]);
                a = t.after;
            }
        }
        if a.status == Status::Approved {
            prop_assert!(a.votes.iter().all(|v| !req.involves(&v.subject)));
            prop_assert!(a.votes.len() as u32 >= min);
        }
    }
}
