//! Fixtures shared by the service tests: approvals, people, and databases (a SQLite file in a
//! temporary directory, and a fresh database on the PostgreSQL server named by
//! `WARDEN_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod people;

use std::sync::atomic::{AtomicU32, Ordering};
use warden_approvals::core::approval::{Action, Approval, Requester, Requirement, Status};
use warden_approvals::core::approver::Approver;
use warden_approvals::store::{NewApproval, Store};
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

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A store on a new SQLite file.
pub async fn sqlite() -> (Store, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}", dir.path.join("approvals.db").display());
    (Store::connect(&url).await.expect("sqlite store"), dir)
}

/// The URL of a new, empty database on the test PostgreSQL server.
pub async fn postgres_url() -> String {
    let admin =
        std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("warden_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} (set WARDEN_TEST_POSTGRES; ci/postgres starts one): {e}"));
    // Databases left by earlier test processes that are gone.
    let stale: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'warden_test_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for (db,) in stale {
        let pid = db.trim_start_matches("warden_test_").split('_').next().unwrap_or("");
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).await;
        }
    }
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let (main, query) = admin.split_once('?').map_or((admin.as_str(), None), |(m, q)| (m, Some(q)));
    let base = main.rsplit_once('/').map(|(b, _)| b).unwrap();
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A store on a new PostgreSQL database.
pub async fn postgres() -> Store {
    Store::connect(&postgres_url().await).await.expect("postgres store")
}

pub mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "warden-approvals-{}-{}",
                std::process::id(),
                super::NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
