//! The schema, versioned: the same migrations (one directory per database dialect) run at
//! start on SQLite and PostgreSQL, under sqlx's migration lock (replicas starting together
//! apply each once).

use super::Backend;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;

/// (version, description, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "approvals, votes, events",
        include_str!("../../migrations/sqlite/0001_approvals.sql"),
        include_str!("../../migrations/postgres/0001_approvals.sql"),
    ),
    (
        2,
        "deliveries to people's channels",
        include_str!("../../migrations/sqlite/0002_deliveries.sql"),
        include_str!("../../migrations/postgres/0002_deliveries.sql"),
    ),
    (
        3,
        "people's verified emails, Slack messages",
        include_str!("../../migrations/sqlite/0003_slack.sql"),
        include_str!("../../migrations/postgres/0003_slack.sql"),
    ),
    (
        4,
        "whether a person's last sign-in was delegated",
        include_str!("../../migrations/sqlite/0004_people_delegated.sql"),
        include_str!("../../migrations/postgres/0004_people_delegated.sql"),
    ),
];

/// Applies the migrations not yet applied.
pub async fn run(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::Error> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, postgres)| {
            let sql = if backend == Backend::Sqlite { sqlite } else { postgres };
            Migration::new(*version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
        })
        .collect::<Vec<_>>();
    // The evidence ledger's migrations (from 1001) share the database and the migrations table.
    let migrator = Migrator { migrations: Cow::Owned(migrations), ignore_missing: true, ..Migrator::DEFAULT };
    migrator.run(pool).await.map_err(|e| sqlx::Error::Migrate(Box::new(e)))
}
