//! Fixtures shared by the service tests: approvals, people, and databases (a SQLite file in a
//! temporary directory, and a fresh database on the PostgreSQL server named by
//! `WARDEN_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod api;
pub mod people;

use warden_approval_service::core::approval::{Action, Approval, Requester, Requirement, Status};
use warden_approval_service::core::approver::Approver;
use warden_approval_service::store::{NewApproval, Store};
use warden_kit::facts::{Actor, SubjectKind};

pub const T0: u64 = 1_800_000_000;

pub fn requester(subject: &str, actors: &[&str]) -> Requester {
    Requester {
        subject: subject.into(),
        issuer: "https://idp.example".into(),
        kind: SubjectKind::Human,
        actors: actors.iter().map(|a| Actor { subject: (*a).into(), kind: SubjectKind::Agent }).collect(),
    }
}

pub fn requirement(groups: &[&str], users: &[&str], min: u32) -> Requirement {
    Requirement {
        groups: groups.iter().map(|g| (*g).into()).collect(),
        users: users.iter().map(|u| (*u).into()).collect(),
        min_approvals: min,
        all_groups: false,
        deny_threshold: 1,
        pending_ttl_secs: 600,
        use_by_secs: 300,
        max_auth_age_secs: None,
    }
}

pub fn action() -> Action {
    Action {
        method: "POST".into(),
        authority: "db.internal".into(),
        path: "/query".into(),
        tool: None,
        rules: vec!["destructive-sql".into()],
        reasons: vec!["DELETE needs a DBA".into()],
        policy: "sha256:00".into(),
        arguments: Vec::new(),
        sql: None,
        body: None,
        body_truncated: false,
        body_masked: Default::default(),
    }
}

pub fn new_approval(digest: &str, requester: Requester, requirement: Requirement) -> NewApproval {
    NewApproval { digest: digest.into(), requester, action: action(), requirement }
}

pub fn approval(requester: Requester, requirement: Requirement) -> Approval {
    Approval {
        id: "apr_test".into(),
        digest: "sha256:ab".into(),
        requester,
        action: action(),
        decide_by: T0 + requirement.pending_ttl_secs,
        requirement,
        status: Status::Pending,
        created_at: T0,
        decided_at: None,
        use_by: None,
        consumed_at: None,
        forced: false,
        reason: None,
        votes: Vec::new(),
    }
}

pub fn person(subject: &str, groups: &[&str]) -> Approver {
    Approver {
        subject: subject.into(),
        issuer: "https://idp.example".into(),
        kind: SubjectKind::Human,
        delegated: false,
        groups: groups.iter().map(|g| (*g).into()).collect(),
    }
}

/// A store on a new SQLite file.
pub async fn sqlite() -> (Store, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}", dir.path.join("approvals.db").display());
    (Store::connect(&url).await.expect("sqlite store"), dir)
}

pub use warden_testdb::postgres_url;

/// A store on a new PostgreSQL database.
pub async fn postgres() -> Store {
    Store::connect(&postgres_url().await).await.expect("postgres store")
}

pub mod tempdir {
    pub use warden_testdb::Dir;
}
