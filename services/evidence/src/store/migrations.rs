//! The ledger's schema, versioned from 1001 (the approval service's migrations share the
//! database and sqlx's migrations table), run at start under sqlx's migration lock.

use warden_service_shared::db::{Schema, Step, OWNERS};

/// The ledger's schema: versions 1001 to 1999.
pub const SCHEMA: Schema = Schema { service: OWNERS[1].0, versions: 1001..=1999, steps: STEPS };

/// (version, description, SQLite text, PostgreSQL text).
const STEPS: &[Step] = &[(
    1001,
    "evidence entries, stored hashes, head, checkpoints, policies",
    include_str!("../../migrations/sqlite/1001_evidence.sql"),
    include_str!("../../migrations/postgres/1001_evidence.sql"),
)];
