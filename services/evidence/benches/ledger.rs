//! Ledger benchmarks (ci/bench): ingest rate (audit records appended in batches of 500 on
//! SQLite, and on PostgreSQL when `WARDEN_TEST_POSTGRES` names a server) and the offline
//! verification of a bundle of 1,000,000 records. One run; compare rows of one run only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

use serde_json::json;
use std::time::Instant;
use warden_audit::{build, Observed, Stream};
use warden_evidence::core::bundle::{verify, Bundle, BundleCheckpoint, Trust, FORMAT};
use warden_evidence::core::checkpoint::{LogSigner, LogVerifier};
use warden_evidence::core::merkle::MemoryTree;
use warden_evidence::store::{NewEntry, Store};
use warden_kit::Facts;

const T0: u64 = 1_800_000_000;

fn facts() -> Facts {
    let mut facts = Facts::default();
    facts.import(
        warden_kit::facts::IDENTITY.name(),
        json!({"v": 1, "subject": "alice@example.com", "issuer": "https://idp.example.com", "kind": "human",
               "actors": [{"subject": "agent:code-assistant", "kind": "agent"}], "groups": ["support", "eng"], "method": "jwt"}),
    );
    facts.import(
        warden_kit::facts::DECISION.name(),
        json!({"v": 1, "effect": "allow", "rules": ["support-reads-orders"], "reasons": ["support-reads-orders: allowed"],
               "policy": format!("sha256:{}", "ab".repeat(32))}),
    );
    facts
}

/// `count` sealed records of `streams` VMs, as the audit stage makes them (about 700 bytes).
fn records(count: usize, streams: usize) -> Vec<NewEntry> {
    let facts = facts();
    let mut vms: Vec<Stream> = (0..streams).map(|i| Stream::new(&i.to_le_bytes())).collect();
    (0..count)
        .map(|i| {
            let observed = Observed {
                time_ms: T0 * 1000 + i as u64,
                method: "GET".into(),
                authority: "api.example.com".into(),
                path: format!("/orders/{i}?page=2"),
                source: "10.1.2.3:51234".into(),
                status: 200,
                details: "via_upstream".into(),
                request_bytes: 310,
                response_bytes: 2048,
                duration_us: 950,
                ..Observed::default()
            };
            let mut record = build(&facts, &observed, false);
            let bytes = vms[i % streams].seal(&mut record).unwrap();
            NewEntry {
                kind: warden_kit::ledger::EntryKind::Request,
                stream: record.stream,
                seq: record.seq,
                data: String::from_utf8(bytes).unwrap(),
            }
        })
        .collect()
}

async fn ingest(label: &str, store: Store) {
    let entries = records(20_000, 4);
    let size = entries.iter().map(|e| e.data.len()).sum::<usize>() / entries.len();
    let start = Instant::now();
    for batch in entries.chunks(500) {
        store.append(batch, T0).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ledger ingest ({label}): {} records of ~{size} bytes in batches of 500: {:.2} s = {:.0} records/s",
        entries.len(),
        secs,
        entries.len() as f64 / secs
    );
}

fn verify_million() {
    let start = Instant::now();
    let entries: Vec<String> = records(1_000_000, 8).into_iter().map(|e| e.data).collect();
    let made = start.elapsed().as_secs_f64();
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.append(e.as_bytes()).unwrap();
    }
    let signer = LogSigner::new("bench.example/evidence", [1; 32]).unwrap();
    let size = tree.size();
    let note = String::from_utf8(signer.sign(size, tree.root(size).unwrap()).unwrap()).unwrap();
    let bundle = Bundle {
        format: FORMAT.into(),
        origin: "bench.example/evidence".into(),
        log_key: signer.vkey(),
        witness_keys: vec![],
        from: 0,
        entries,
        prefix_hashes: Default::default(),
        first: None,
        last: BundleCheckpoint { size, note },
        consistency: vec![],
        proofs: Default::default(),
        policies: Default::default(),
    };
    let trust = Trust { log: LogVerifier::new(&signer.vkey()).unwrap(), witnesses: vec![], required_witnesses: 0 };
    let start = Instant::now();
    let report = verify(&bundle, &trust);
    let secs = start.elapsed().as_secs_f64();
    assert!(report.ok(), "{:?}", report.failures);
    println!(
        "warden audit verify: {} records (8 streams) in {:.2} s ({:.1} us per record; making them took {:.1} s)",
        report.entries,
        secs,
        secs * 1e6 / report.entries as f64,
        made
    );
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("warden-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("evidence.db").display());
    ingest("SQLite", Store::connect(&url).await.unwrap()).await;
    if std::env::var_os("WARDEN_TEST_POSTGRES").is_some() {
        ingest("PostgreSQL", Store::connect(&warden_testdb::postgres_url().await).await.unwrap()).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    verify_million();
}
