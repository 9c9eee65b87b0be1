//! Native cost of one record, by part: writing its canonical bytes from the facts, and
//! chaining it (SHA-256). `cargo run --release -p warden-audit --example record_bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::time::Instant;
use warden_audit::{write, Observed, Position};
use warden_kit::audit::{chain_hash, RecordKind};
use warden_kit::{facts, Facts};

fn main() {
    let mut facts = Facts::default();
    facts.import(facts::REQUEST_ID.name(), json!("3f1c9a7e-1b2d-4c5e-8f90-123456789abc"));
    facts.import(
        facts::IDENTITY.name(),
        json!({"v": 1, "subject": "alice", "issuer": "api_key", "kind": "human", "method": "api_key"}),
    );
    facts.import(
        facts::DECISION.name(),
        json!({"v": 1, "effect": "allow", "rules": [], "reasons": [], "policy": format!("sha256:{}", "ab".repeat(32))}),
    );
    let observed = Observed {
        time_ms: 1_795_000_000_000,
        method: "GET".into(),
        authority: "api.example.com".into(),
        path: "/customers/42".into(),
        source: "127.0.0.1:40000".into(),
        status: 200,
        details: "via_upstream".into(),
        request_bytes: 180,
        response_bytes: 90,
        duration_us: 321,
        ..Observed::default()
    };
    let prev = format!("sha256:{}", "cd".repeat(32));
    let at = Position { stream: "0123456789abcdef0123456789abcdef", seq: 12345, prev: &prev };
    let bytes = write(&facts, &observed, false, RecordKind::Request, true, at).unwrap();
    let rounds = 200_000u32;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(write(&facts, &observed, false, RecordKind::Request, true, at));
    }
    let written = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(chain_hash(std::hint::black_box(&bytes)));
    }
    let hashed = start.elapsed() / rounds;
    let engine = if cfg!(target_family = "wasm") { "wasm" } else { "native" };
    println!("audit record ({} bytes): write {written:?}, chain hash {hashed:?} ({engine})", bytes.len());
}
