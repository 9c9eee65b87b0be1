//! The store on SQLite and on a real PostgreSQL server: the same tests on both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use warden_approval_service::core::EventActor;

use crate::common::*;
use std::time::Duration;
use warden_approval_service::core::approval::Status;
use warden_approval_service::core::approver::Approver;
use warden_approval_service::core::consume::{ConsumeRefusal, ConsumeRequest};
use warden_approval_service::core::decide::VoteRequest;
use warden_approval_service::core::receipt::{verify, Signer};
use warden_approval_service::core::tally::VoteDecision;
use warden_approval_service::store::{Ballot, DecisionRules, Origin, Store, StoreError, RECHECK};

fn proxy() -> Origin {
    Origin { actor: EventActor::Proxy { name: "envoy".into() }, source: Some("127.0.0.1:1".into()) }
}

fn approve() -> VoteRequest {
    VoteRequest { decision: VoteDecision::Approve, reason: None, force: false }
}

fn mine(digest: &str) -> ConsumeRequest {
    ConsumeRequest { digest: digest.into(), subject: "alice".into(), issuer: "https://idp.example".into() }
}

fn rules() -> DecisionRules {
    DecisionRules { signer: Signer::from_seed([3; 32]), break_glass_group: None }
}

fn ballot(who: &Approver) -> Ballot<'_> {
    Ballot { who, request: approve(), source: None, channel: "api", auth_time: None }
}

async fn approved(store: &Store, id: &str, now: u64) -> Signer {
    let new = new_approval("sha256:d1", requester("alice", &[]), requirement(&["dba"], &[], 1));
    store.create(new, id.into(), now, &proxy()).await.unwrap();
    store.vote(id, ballot(&person("bob", &["dba"])), now, &rules()).await.unwrap();
    rules().signer
}

async fn creating_twice_returns_the_same_pending_approval(store: Store) {
    let new = new_approval("sha256:d1", requester("alice", &[]), requirement(&["dba"], &[], 1));
    let (first, created) = store.create(new.clone(), "apr_1".into(), T0, &proxy()).await.unwrap();
    assert!(created);
    let (again, created) = store.create(new.clone(), "apr_2".into(), T0 + 1, &proxy()).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let other = new_approval("sha256:d1", requester("mallory", &[]), requirement(&["dba"], &[], 1));
    let (theirs, created) = store.create(other, "apr_3".into(), T0, &proxy()).await.unwrap();
    assert!(created, "another requester gets an approval of their own");
    assert_ne!(theirs.id, first.id);
    let (later, created) = store.create(new, "apr_4".into(), T0 + 601, &proxy()).await.unwrap();
    assert!(created, "an expired pending approval is not reused");
    assert_eq!(later.id, "apr_4");
    assert_eq!(store.get("apr_1").await.unwrap().unwrap().status, Status::Expired);
}

async fn approve_then_consume_once_with_a_valid_receipt(store: Store) {
    let signer = approved(&store, "apr_1", T0).await;
    let (approval, receipt) = store.consume("apr_1", &mine("sha256:d1"), T0 + 5, &proxy()).await.unwrap().unwrap();
    assert_eq!(approval.status, Status::Consumed);
    assert!(verify(&signer.public_key(), &receipt));
    assert_eq!(receipt.receipt.approval_id, "apr_1");
    let again = store.consume("apr_1", &mine("sha256:d1"), T0 + 6, &proxy()).await.unwrap();
    assert_eq!(again.unwrap_err(), ConsumeRefusal::ApprovalUsed);
}

async fn the_wrong_action_requester_or_time_cannot_consume(store: Store) {
    approved(&store, "apr_1", T0).await;
    let changed = store.consume("apr_1", &mine("sha256:changed-body"), T0 + 1, &proxy()).await.unwrap();
    assert_eq!(changed.unwrap_err(), ConsumeRefusal::ApprovalMismatch);
    let mallory = ConsumeRequest { subject: "mallory".into(), ..mine("sha256:d1") };
    assert_eq!(
        store.consume("apr_1", &mallory, T0 + 1, &proxy()).await.unwrap().unwrap_err(),
        ConsumeRefusal::ApprovalMismatch
    );
    assert_eq!(
        store.consume("apr_nope", &mine("sha256:d1"), T0 + 1, &proxy()).await.unwrap().unwrap_err(),
        ConsumeRefusal::ApprovalMismatch
    );
    let late = store.consume("apr_1", &mine("sha256:d1"), T0 + 300, &proxy()).await.unwrap();
    assert_eq!(late.unwrap_err(), ConsumeRefusal::ApprovalExpired);
    assert_eq!(store.get("apr_1").await.unwrap().unwrap().status, Status::Approved, "refusals change nothing");
}

async fn a_refused_vote_writes_nothing(store: Store) {
    let new = new_approval("sha256:d1", requester("alice", &[]), requirement(&["dba"], &[], 1));
    store.create(new, "apr_1".into(), T0, &proxy()).await.unwrap();
    let events = store.events(0, 100).await.unwrap().len();
    let err = store.vote("apr_1", ballot(&person("alice", &["dba"])), T0, &rules()).await.unwrap_err();
    assert!(matches!(err, StoreError::Decide(_)), "{err}");
    let a = store.get("apr_1").await.unwrap().unwrap();
    assert!(a.votes.is_empty());
    assert_eq!(store.events(0, 100).await.unwrap().len(), events);
}

async fn every_change_is_in_the_event_log_in_order(store: Store) {
    approved(&store, "apr_1", T0).await;
    store.consume("apr_1", &mine("sha256:other"), T0 + 1, &proxy()).await.unwrap().unwrap_err();
    store.consume("apr_1", &mine("sha256:d1"), T0 + 2, &proxy()).await.unwrap().unwrap();
    let new = new_approval("sha256:d2", requester("alice", &[]), requirement(&["dba"], &[], 1));
    store.create(new, "apr_2".into(), T0, &proxy()).await.unwrap();
    assert_eq!(store.expire_due(T0 + 600).await.unwrap(), 1);
    let events = store.events(0, 100).await.unwrap();
    let kinds: Vec<(&str, &str)> = events.iter().map(|e| (e.approval_id.as_str(), e.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("apr_1", "created"),
            ("apr_1", "voted"),
            ("apr_1", "approved"),
            ("apr_1", "consume_refused"),
            ("apr_1", "consumed"),
            ("apr_2", "created"),
            ("apr_2", "expired")
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(events[1].actor, EventActor::Person { subject: "bob".into() });
    assert_eq!(events[0].source.as_deref(), Some("127.0.0.1:1"));
    assert_eq!(store.events(events[4].seq, 100).await.unwrap().len(), 2, "reading on from a position");
}

/// 50 attempts at once, over `stores` (one per replica): exactly one uses the approval.
async fn fifty_concurrent_consumes_one_wins(stores: Vec<Store>) {
    approved(&stores[0], "apr_1", T0).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = stores[i % stores.len()].clone();
        tasks.push(tokio::spawn(async move { store.consume("apr_1", &mine("sha256:d1"), T0 + 1, &proxy()).await }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Ok(_) => won += 1,
            Err(refusal) => assert_eq!(refusal, ConsumeRefusal::ApprovalUsed),
        }
    }
    assert_eq!(won, 1);
}

/// A waiter on replica `b` wakes when a person decides on replica `a`.
async fn a_decision_on_one_replica_wakes_a_waiter_on_another(a: Store, b: Store) {
    let new = new_approval("sha256:d1", requester("alice", &[]), requirement(&["dba"], &[], 1));
    let now = warden_approval_service::unix_now();
    a.create(new, "apr_1".into(), now, &proxy()).await.unwrap();
    let waiter = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let seen = b.wait("apr_1", Duration::from_secs(20)).await.unwrap().unwrap();
        (seen.status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.vote("apr_1", ballot(&person("bob", &["dba"])), now, &rules()).await.unwrap();
    let (status, waited) = waiter.await.unwrap();
    assert_eq!(status, Status::Approved);
    // Woken by the decision itself: sooner than the periodic re-read would have noticed it.
    assert!(waited < Duration::from_millis(300) + RECHECK / 2, "waited {waited:?}");
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test] async fn $name() { let (store, _dir) = sqlite().await; super::$name(store).await; })*
            #[tokio::test]
            async fn fifty_concurrent_consumes_one_wins() { let (store, _dir) = sqlite().await; super::fifty_concurrent_consumes_one_wins(vec![store]).await; }
            #[tokio::test]
            async fn a_decision_wakes_a_waiter() { let (store, _dir) = sqlite().await; super::a_decision_on_one_replica_wakes_a_waiter_on_another(store.clone(), store).await; }
        }
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $name() {
                if warden_testdb::postgres_absent() {
                    return;
                }
                super::$name(postgres().await).await;
            })*
            #[tokio::test]
            async fn fifty_concurrent_consumes_on_two_replicas_one_wins() {
    if warden_testdb::postgres_absent() {
        return;
    }
                let url = postgres_url().await;
                let replicas = vec![Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap()];
                super::fifty_concurrent_consumes_one_wins(replicas).await;
            }
            #[tokio::test]
            async fn a_decision_on_replica_a_wakes_a_waiter_on_replica_b() {
    if warden_testdb::postgres_absent() {
        return;
    }
                let url = postgres_url().await;
                let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
                super::a_decision_on_one_replica_wakes_a_waiter_on_another(a, b).await;
            }
        }
    };
}

on_both!(
    creating_twice_returns_the_same_pending_approval,
    approve_then_consume_once_with_a_valid_receipt,
    the_wrong_action_requester_or_time_cannot_consume,
    a_refused_vote_writes_nothing,
    every_change_is_in_the_event_log_in_order,
);
