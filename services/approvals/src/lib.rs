//! `warden-approvals`: the approval service. The proxy's approval stage asks it for approvals
//! of risky actions, waits on them and uses them once; verified humans decide them; every
//! decision is signed and every change appended to an event log.
//!
//! - [`core`]: pure rules (who may decide, how votes add up, consuming, receipts).
//! - [`store`]: SQLite or PostgreSQL storage, one transaction per change.
#![forbid(unsafe_code)]

pub mod core;
pub mod store;

/// Seconds since the epoch, from the system clock (the glue's one clock).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
