//! The approval service's tests, in one binary (each test binary links tokio, sqlx and axum
//! anew).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod api;
mod channels;
mod contract;
mod delegation;
mod fetched_keys;
mod openapi;
mod rules;
mod slack;
mod store;
mod web;
