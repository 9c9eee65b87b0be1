//! The ledger's schema, versioned from 1001 (the approval service's migrations share the
//! database and sqlx's migrations table), run at start under sqlx's migration lock.

use super::Backend;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;

/// (version, description, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[(
    1001,
    "evidence entries, stored hashes, head, checkpoints, policies",
    include_str!("../../migrations/sqlite/1001_evidence.sql"),
    include_str!("../../migrations/postgres/1001_evidence.sql"),
)];

/// Applies the migrations not yet applied (other services' migrations in the same database
/// are left alone).
pub async fn run(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::Error> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, postgres)| {
            let sql = if backend == Backend::Sqlite { sqlite } else { postgres };
            Migration::new(*version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect::<Vec<_>>();
    let migrator = Migrator { migrations: Cow::Owned(migrations), ignore_missing: true, ..Migrator::DEFAULT };
    migrator.run(pool).await.map_err(|e| sqlx::Error::Migrate(Box::new(e)))
}
