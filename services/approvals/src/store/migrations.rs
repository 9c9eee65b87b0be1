//! The schema, versioned: the same migrations (one directory per database dialect) run at
//! start on SQLite and PostgreSQL, under sqlx's migration lock (replicas starting together
//! apply each once).

use warden_service_shared::db::{Schema, Step, OWNERS};

/// The approval service's schema: versions 1 to 999 (the evidence ledger's start at 1001).
pub const SCHEMA: Schema = Schema { service: OWNERS[0].0, versions: 1..=999, steps: STEPS };

/// (version, description, SQLite text, PostgreSQL text).
const STEPS: &[Step] = &[
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
