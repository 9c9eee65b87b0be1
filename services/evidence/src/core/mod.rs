//! The ledger's rules, with no I/O.

pub mod bundle;
pub mod checkpoint;
pub mod cosign;
pub mod entry;
pub mod keys;
pub mod merkle;
pub mod witness;
