//! The evidence ledger: an append-only Merkle log (RFC 6962 / 9162 hashing) of canonical JSON
//! entries (audit records from the proxies, events from the approval service), with signed
//! checkpoints in the C2SP `tlog-checkpoint` / `signed-note` formats, witness cosignatures
//! (C2SP `tlog-cosignature`), and proofs an auditor checks offline.
//!
//! [`core`] is pure: hashing, proofs, checkpoint signing and verification take bytes, keys and
//! times as inputs.
#![forbid(unsafe_code)]

pub mod config;
pub mod core;
pub mod export;
pub mod http;
pub mod store;
pub mod upkeep;

pub use warden_service_shared::unix_now;
