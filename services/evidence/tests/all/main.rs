//! The ledger's tests, in one binary (each test binary links tokio, sqlx and axum anew).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod bundle;
mod checkpoint;
mod contract;
mod merkle;
mod store;
mod witness;
