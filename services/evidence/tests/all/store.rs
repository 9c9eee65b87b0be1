//! The ledger's storage on SQLite and on a real PostgreSQL: the stored tree is the tree the
//! auditor recomputes, retried batches are not duplicated, a different entry under a used
//! sequence number is refused whole, and replicas appending and signing at once never fork
//! the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_evidence::core::checkpoint::{open, LogSigner, LogVerifier};
use warden_evidence::core::merkle::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree};
use warden_evidence::store::{NewEntry, Store, StoreError};
use warden_testdb::{postgres_url, Dir};

const T0: u64 = 1_800_000_000;

fn entry(stream: &str, seq: u64) -> NewEntry {
    NewEntry {
        kind: warden_kit::ledger::EntryKind::Request,
        stream: stream.into(),
        seq,
        data: format!("{{\"seq\":{seq},\"stream\":\"{stream}\",\"v\":1}}"),
    }
}

fn signer() -> LogSigner {
    LogSigner::new("warden.test/evidence", [9; 32]).unwrap()
}

async fn the_stored_tree_is_the_tree_an_auditor_recomputes(store: Store) {
    let batch: Vec<NewEntry> = (0..37).map(|i| entry("s1", i)).collect();
    let appended = store.append(&batch[..20], T0).await.unwrap();
    assert_eq!((appended.appended, appended.size), (20, 20));
    store.append(&batch[20..], T0).await.unwrap();
    let mut tree = MemoryTree::new();
    for e in &batch {
        tree.append(e.data.as_bytes()).unwrap();
    }
    assert_eq!(store.size().await.unwrap(), 37);
    for size in [1, 2, 20, 37] {
        assert_eq!(store.root(size).await.unwrap(), tree.root(size).unwrap(), "root of {size}");
    }
    let root = tree.root(37).unwrap();
    for index in [0, 5, 36] {
        let proof = store.inclusion_proof(index, 37).await.unwrap();
        verify_inclusion(&proof, index, 37, leaf_hash(batch[index as usize].data.as_bytes()), root).unwrap();
    }
    let proof = store.consistency_proof(20, 37).await.unwrap();
    verify_consistency(&proof, 20, tree.root(20).unwrap(), 37, root).unwrap();
    assert!(matches!(store.root(38).await, Err(StoreError::Range(_))));

    let checkpoint = store.checkpoint(&signer(), T0).await.unwrap();
    assert_eq!(checkpoint.size, 37);
    let opened = open(checkpoint.note.as_bytes(), &LogVerifier::new(&signer().vkey()).unwrap(), &[], 0).unwrap();
    assert_eq!(opened.checkpoint.root, root);
    let entries = store.entries(10, 12).await.unwrap();
    assert_eq!(entries, vec![(10, batch[10].data.clone()), (11, batch[11].data.clone())]);
}

async fn a_retried_batch_is_not_duplicated_and_a_forged_one_is_refused_whole(store: Store) {
    let batch: Vec<NewEntry> = (0..5).map(|i| entry("s1", i)).collect();
    store.append(&batch, T0).await.unwrap();
    let retried = store.append(&batch, T0).await.unwrap();
    assert_eq!((retried.appended, retried.duplicates, retried.size), (0, 5, 5));

    let mut forged = vec![entry("s1", 5), entry("s1", 6)];
    forged.push(NewEntry { data: "{\"other\":true}".into(), ..entry("s1", 2) });
    assert!(matches!(store.append(&forged, T0).await, Err(StoreError::Conflict { seq: 2, .. })));
    assert_eq!(store.size().await.unwrap(), 5, "nothing of a refused batch is appended");
}

async fn replicas_appending_and_signing_at_once_never_fork_the_log(a: Store, b: Store) {
    let tasks: Vec<_> = (0..8u64)
        .map(|worker| {
            let store = if worker % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                for batch in 0..5u64 {
                    let entries: Vec<NewEntry> = (0..4).map(|i| entry(&format!("w{worker}"), batch * 4 + i)).collect();
                    store.append(&entries, T0).await.unwrap();
                    store.checkpoint(&signer(), T0).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(a.size().await.unwrap(), 160);
    // Recompute from the stored entries: the same root, and every stored checkpoint is a
    // prefix of the final one.
    let entries = a.entries(0, 160).await.unwrap();
    let mut tree = MemoryTree::new();
    for (_, data) in &entries {
        tree.append(data.as_bytes()).unwrap();
    }
    let last = b.checkpoint(&signer(), T0).await.unwrap();
    assert_eq!(last.root, tree.root(160).unwrap());
    let verifier = LogVerifier::new(&signer().vkey()).unwrap();
    let mut checkpoints = 0;
    for size in 1..=160 {
        let Some(at) = a.checkpoint_at(size).await.unwrap() else { continue };
        checkpoints += 1;
        let opened = open(at.note.as_bytes(), &verifier, &[], 0).unwrap();
        assert_eq!(opened.checkpoint.root, tree.root(size).unwrap(), "checkpoint of {size}");
        let proof = a.consistency_proof(size, 160).await.unwrap();
        verify_consistency(&proof, size, at.root, 160, last.root).unwrap();
    }
    assert!(checkpoints >= 5, "{checkpoints} checkpoints were signed along the way");
}

mod sqlite {
    use super::*;

    async fn store() -> (Store, Dir) {
        let dir = Dir::new();
        (Store::connect(&dir.sqlite_url("evidence.db")).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn the_stored_tree_is_the_tree_an_auditor_recomputes() {
        if warden_testdb::postgres_absent() {
            return;
        }
        let (store, _dir) = store().await;
        super::the_stored_tree_is_the_tree_an_auditor_recomputes(store).await;
    }

    #[tokio::test]
    async fn a_retried_batch_is_not_duplicated_and_a_forged_one_is_refused_whole() {
        if warden_testdb::postgres_absent() {
            return;
        }
        let (store, _dir) = store().await;
        super::a_retried_batch_is_not_duplicated_and_a_forged_one_is_refused_whole(store).await;
    }

    #[tokio::test]
    async fn concurrent_appends_never_fork_the_log() {
        let (store, _dir) = store().await;
        super::replicas_appending_and_signing_at_once_never_fork_the_log(store.clone(), store).await;
    }
}

mod postgres {
    use super::*;

    async fn store() -> Store {
        Store::connect(&postgres_url().await).await.unwrap()
    }

    #[tokio::test]
    async fn the_stored_tree_is_the_tree_an_auditor_recomputes() {
        if warden_testdb::postgres_absent() {
            return;
        }
        super::the_stored_tree_is_the_tree_an_auditor_recomputes(store().await).await;
    }

    #[tokio::test]
    async fn a_retried_batch_is_not_duplicated_and_a_forged_one_is_refused_whole() {
        if warden_testdb::postgres_absent() {
            return;
        }
        super::a_retried_batch_is_not_duplicated_and_a_forged_one_is_refused_whole(store().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_replicas_appending_and_signing_at_once_never_fork_the_log() {
        if warden_testdb::postgres_absent() {
            return;
        }
        let url = postgres_url().await;
        let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
        super::replicas_appending_and_signing_at_once_never_fork_the_log(a, b).await;
    }
}
