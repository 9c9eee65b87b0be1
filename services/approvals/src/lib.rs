//! `warden-approval-service`: the approval service. The proxy's approval stage asks it for approvals
//! of risky actions, waits on them and uses them once; verified humans decide them; every
//! decision is signed and every change appended to an event log.
//!
//! - [`core`]: pure rules (who may decide, how votes add up, consuming, receipts).
//! - [`store`]: SQLite or PostgreSQL storage, one transaction per change.
//! - [`http`], [`startup`]: the JSON API under `/v1` (axum) and starting it (`warden serve`).
//! - [`config`], [`auth`]: the configuration file; who is calling (proxy key or person's JWT).
//! - [`web`]: the approvers' web pages (`/ui`) with OpenID Connect login.
//! - [`channels`]: signed webhooks and Teams cards for approval events, through an outbox.
#![forbid(unsafe_code)]

pub mod auth;
pub mod channels;
pub mod config;
pub mod core;
pub mod http;
pub mod jwks_fetch;
pub mod preview;
pub mod startup;
pub mod store;
pub mod web;

pub use warden_service_shared::unix_now;
