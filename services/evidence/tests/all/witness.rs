//! Witnesses (C2SP `tlog-witness`): the witness cosigns only trees that extend what it
//! cosigned before (a forked log is refused), tells a log that lost track its size (409), and
//! refuses foreign or forged checkpoints; the ledger asks a real witness server over HTTP and
//! a bundle can then require its cosignature.

use axum::body::Bytes;
use axum::routing::post;
use std::sync::{Arc, Mutex};
use warden_evidence::config::WitnessConfig;
use warden_evidence::core::bundle::{verify, Trust};
use warden_evidence::core::checkpoint::{open, LogSigner, LogVerifier};
use warden_evidence::core::cosign::{WitnessSigner, WitnessVerifier};
use warden_evidence::core::merkle::MemoryTree;
use warden_evidence::core::witness::{request, Witness};
use warden_evidence::export::{export, ExportRequest};
use warden_evidence::store::{NewEntry, Store};
use warden_evidence::upkeep::{tick, WitnessClient};
use warden_testdb::Dir;

const T0: u64 = 1_800_000_000;
const WITNESS_SEED: [u8; 32] = [21; 32];

fn log() -> LogSigner {
    LogSigner::new("warden.test/evidence", [3; 32]).unwrap()
}

fn witness_key() -> String {
    WitnessSigner::new("witness.test", WITNESS_SEED, 0).unwrap().vkey()
}

fn tree(entries: &[&str]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for e in entries {
        tree.append(e.as_bytes()).unwrap();
    }
    tree
}

#[test]
fn a_witness_cosigns_only_trees_that_extend_the_last_one() {
    let log = log();
    let mut witness = Witness::new("witness.test", WITNESS_SEED, LogVerifier::new(&log.vkey()).unwrap());
    let verifier = WitnessVerifier::new(&witness_key()).unwrap();
    let log_verifier = LogVerifier::new(&log.vkey()).unwrap();

    let first = tree(&["a", "b", "c"]);
    let note = log.sign(3, first.root(3).unwrap()).unwrap();
    let line = witness.add_checkpoint(&request(0, &[], &note), T0).unwrap();
    let mut cosigned = note.clone();
    cosigned.extend_from_slice(&line);
    assert_eq!(open(&cosigned, &log_verifier, std::slice::from_ref(&verifier), 1).unwrap().witnesses, ["witness.test"]);

    // The log grows: a consistency proof from 3 is needed and checked.
    let grown = tree(&["a", "b", "c", "d", "e"]);
    let note5 = log.sign(5, grown.root(5).unwrap()).unwrap();
    let proof = grown.consistency_proof(3, 5).unwrap();
    assert!(witness.add_checkpoint(&request(3, &proof, &note5), T0 + 1).is_ok());
    assert_eq!(witness.size(), 5);

    // A log that lost track is told the witness's size.
    let refused = witness.add_checkpoint(&request(3, &proof, &note5), T0 + 2).unwrap_err();
    assert_eq!((refused.status, refused.body.as_str()), (409, "5"));

    // A fork: a different tree of 6 under the same key does not extend what was cosigned.
    let fork = tree(&["a", "b", "X", "d", "e", "f"]);
    let forked = log.sign(6, fork.root(6).unwrap()).unwrap();
    let fork_proof = fork.consistency_proof(5, 6).unwrap();
    assert_eq!(witness.add_checkpoint(&request(5, &fork_proof, &forked), T0 + 3).unwrap_err().status, 422);

    // Another key under the log's name, or another log.
    let impostor = LogSigner::new("warden.test/evidence", [4; 32]).unwrap();
    let forged = impostor.sign(5, grown.root(5).unwrap()).unwrap();
    assert_eq!(witness.add_checkpoint(&request(5, &[], &forged), T0).unwrap_err().status, 403);
    let other = LogSigner::new("elsewhere.test/log", [3; 32]).unwrap();
    assert_eq!(
        witness
            .add_checkpoint(&request(5, &[], &other.sign(5, grown.root(5).unwrap()).unwrap()), T0)
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(witness.add_checkpoint(b"garbage", T0).unwrap_err().status, 400);
}

/// A witness served over HTTP on loopback, as the ledger reaches real ones.
async fn witness_server() -> (String, Arc<Mutex<Witness>>) {
    let witness =
        Arc::new(Mutex::new(Witness::new("witness.test", WITNESS_SEED, LogVerifier::new(&log().vkey()).unwrap())));
    let state = witness.clone();
    let app = axum::Router::new().route(
        "/add-checkpoint",
        post(move |body: Bytes| {
            let state = state.clone();
            async move {
                let answer = state.lock().unwrap().add_checkpoint(&body, T0 + 10);
                match answer {
                    Ok(line) => (axum::http::StatusCode::OK, line),
                    Err(refusal) => {
                        (axum::http::StatusCode::from_u16(refusal.status).unwrap(), refusal.body.into_bytes())
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, witness)
}

fn entries(from: u64, to: u64) -> Vec<NewEntry> {
    (from..to)
        .map(|i| NewEntry {
            kind: warden_kit::ledger::EntryKind::ApprovalEvent,
            stream: "approvals".into(),
            seq: i,
            data: format!(
                "{{\"actor\":{{\"type\":\"service\"}},\"approval_id\":\"apr_{i}\",\"at\":{i},\"detail\":{{}},\
                 \"event\":\"expired\",\"kind\":\"approval_event\",\"seq\":{i},\"source\":null,\"v\":1}}"
            ),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_has_each_new_checkpoint_cosigned_and_bundles_can_require_it() {
    let (url, witness) = witness_server().await;
    let dir = Dir::new();
    let store = Store::connect(&dir.sqlite_url("evidence.db")).await.unwrap();
    let mut clients = vec![WitnessClient::new(WitnessConfig { url, key: witness_key() }).unwrap()];
    store.append(&entries(1, 5), T0).await.unwrap();
    tick(&store, &log(), None, &mut clients).await.unwrap();
    store.append(&entries(5, 12), T0).await.unwrap();
    tick(&store, &log(), None, &mut clients).await.unwrap();
    assert_eq!(witness.lock().unwrap().size(), 11, "the witness followed the log with a consistency proof");

    // A restarted ledger forgets what the witness cosigned: one 409, then it catches up.
    store.append(&entries(12, 15), T0).await.unwrap();
    let mut restarted =
        vec![WitnessClient::new(WitnessConfig { url: clients[0].config.url.clone(), key: witness_key() }).unwrap()];
    tick(&store, &log(), None, &mut restarted).await.unwrap();
    assert_eq!(witness.lock().unwrap().size(), 14);

    let bundle =
        export(&store, &ExportRequest { from: 0, to: None, sample: 2 }, &log().vkey(), &[witness_key()]).await.unwrap();
    let trust = Trust {
        log: LogVerifier::new(&log().vkey()).unwrap(),
        witnesses: vec![WitnessVerifier::new(&witness_key()).unwrap()],
        required_witnesses: 1,
    };
    let report = verify(&bundle, &trust);
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.witnesses, ["witness.test"]);
}
