//! Test fixtures shared by the services' tests: a new, empty database on the PostgreSQL
//! server named by `WARDEN_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`;
//! `ci/postgres` starts one when none answers), and temporary directories removed on drop.
//! Databases left by test processes that are gone are dropped.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Default server when `WARDEN_TEST_POSTGRES` is not set.
const DEFAULT_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Whether the PostgreSQL tests must be skipped: only when `WARDEN_TEST_POSTGRES` is not set
/// and nothing answers on the default server's port, so that `cargo test --workspace` on a
/// fresh clone runs everything else. Says so on stderr (seen with `--nocapture` and in the
/// failure output of any test beside it). With `WARDEN_TEST_POSTGRES` set (`ci/test` sets it
/// through `ci/postgres`), nothing is skipped: a server that does not answer fails the test.
pub fn postgres_absent() -> bool {
    if std::env::var_os("WARDEN_TEST_POSTGRES").is_some() {
        return false;
    }
    let answers = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], 5432)),
        std::time::Duration::from_secs(1),
    )
    .is_ok();
    if !answers {
        eprintln!(
            "SKIPPED (PostgreSQL): nothing answers at {DEFAULT_ADMIN} and WARDEN_TEST_POSTGRES is not set; \
             run `eval \"$(ci/postgres)\"` to run this test on PostgreSQL too"
        );
    }
    !answers
}

/// The URL of a new, empty database on the test PostgreSQL server. Panics (a test fixture)
/// with a message saying how to start one when the server does not answer.
pub async fn postgres_url() -> String {
    let admin = std::env::var("WARDEN_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN.into());
    let name = format!("warden_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} (set WARDEN_TEST_POSTGRES; ci/postgres starts one): {e}"));
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

/// A directory removed when dropped.
#[derive(Debug)]
pub struct Dir {
    /// Its path.
    pub path: PathBuf,
}

impl Dir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new() -> Dir {
        let path = std::env::temp_dir().join(format!(
            "warden-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Dir { path }
    }

    /// `sqlite://<dir>/<file>`.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.path.join(file).display())
    }
}

impl Default for Dir {
    fn default() -> Self {
        Dir::new()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
