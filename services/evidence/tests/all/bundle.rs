//! Offline evidence bundles: an unmodified bundle verifies (whole log or a range), records a
//! proxy dropped and reported are noted, records lost without a trace fail, and 1,000 random
//! tamperings of a bundle (edit, delete, insert, reorder, truncate, swap or forge a checkpoint,
//! drop a witness cosignature, edit a proof) are all detected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_audit::{build, Observed, Stream};
use warden_evidence::core::bundle::{verify, Bundle, Trust};
use warden_evidence::core::checkpoint::{add_cosignature, LogSigner, LogVerifier};
use warden_evidence::core::cosign::{WitnessSigner, WitnessVerifier};
use warden_evidence::export::{export, ExportRequest};
use warden_evidence::store::{NewEntry, Store};
use warden_kit::Facts;
use warden_testdb::Dir;

const T0: u64 = 1_800_000_000;

fn log() -> LogSigner {
    LogSigner::new("warden.test/evidence", [3; 32]).unwrap()
}

fn witness() -> WitnessSigner {
    WitnessSigner::new("witness.test", [4; 32], T0 + 5).unwrap()
}

fn trust() -> Trust {
    Trust {
        log: LogVerifier::new(&log().vkey()).unwrap(),
        witnesses: vec![WitnessVerifier::new(&witness().vkey()).unwrap()],
        required_witnesses: 1,
    }
}

/// The policy set the records were decided under, as `warden policy publish` sends it.
const POLICY: &str = r#"{"default":"deny","policies":[{"name":"orders","rules":[{"effect":"allow","id":"r","match":{"paths":[{"prefix":"/orders"}]}}]}]}"#;

fn record_entry(stream: &mut Stream, path: &str) -> NewEntry {
    let policy = warden_evidence::core::bundle::policy_version(POLICY.as_bytes());
    let mut facts = Facts::default();
    facts.import(
        warden_kit::facts::IDENTITY.name(),
        json!({"v": 1, "subject": "alice", "issuer": "i", "kind": "human", "method": "jwt"}),
    );
    facts.import(
        warden_kit::facts::DECISION.name(),
        json!({"v": 1, "effect": "allow", "rules": ["r"], "reasons": ["r: ok"], "policy": policy}),
    );
    let observed = Observed {
        time_ms: T0 * 1000,
        method: "GET".into(),
        authority: "api".into(),
        path: path.into(),
        status: 200,
        ..Observed::default()
    };
    let mut record = build(&facts, &observed, false);
    let bytes = stream.seal(&mut record).unwrap();
    NewEntry {
        kind: warden_kit::ledger::EntryKind::Request,
        stream: record.stream,
        seq: record.seq,
        data: String::from_utf8(bytes).unwrap(),
    }
}

/// A log of three VMs' records (one VM dropped three records and said so) and two approval
/// events, appended in four batches with a cosigned checkpoint after each.
async fn ledger(dir: &Dir, lose_one: bool) -> Store {
    let store = Store::connect(&dir.sqlite_url("evidence.db")).await.unwrap();
    store.put_policy(&warden_evidence::core::bundle::policy_version(POLICY.as_bytes()), POLICY, T0).await.unwrap();
    let mut streams: Vec<Stream> = (0..3u8).map(|i| Stream::new(&[i])).collect();
    for batch in 0..4 {
        let mut entries = Vec::new();
        for i in 0..12 {
            let vm = i % 3;
            let entry = record_entry(&mut streams[vm], &format!("/orders/{batch}/{i}"));
            let dropped = vm == 1 && batch == 2 && i < 9;
            let lost = lose_one && vm == 2 && batch == 1 && i == 5;
            if !dropped && !lost {
                entries.push(entry);
            }
        }
        if batch == 2 {
            let gap = streams[1].gap(3, T0 * 1000).unwrap();
            let record: serde_json::Value = serde_json::from_slice(&gap).unwrap();
            entries.push(NewEntry {
                kind: warden_kit::ledger::EntryKind::Gap,
                stream: record["stream"].as_str().unwrap().into(),
                seq: record["seq"].as_u64().unwrap(),
                data: String::from_utf8(gap).unwrap(),
            });
            let event = warden_kit::canonical::to_vec(&json!({"kind": "approval_event", "v": 1, "seq": 1, "approval_id": "apr_1", "at": T0, "event": "approved",
                      "actor": {"type": "person", "subject": "bob"}, "detail": {}, "source": null})).unwrap();
            entries.push(NewEntry {
                kind: warden_kit::ledger::EntryKind::ApprovalEvent,
                stream: "approvals".into(),
                seq: 1,
                data: String::from_utf8(event).unwrap(),
            });
        }
        store.append(&entries, T0).await.unwrap();
        let checkpoint = store.checkpoint(&log(), T0).await.unwrap();
        let cosigned = add_cosignature(checkpoint.note.as_bytes(), &witness()).unwrap();
        store.store_cosigned(checkpoint.size, &String::from_utf8(cosigned).unwrap()).await.unwrap();
    }
    store
}

async fn bundle(store: &Store, from: u64) -> Bundle {
    export(store, &ExportRequest { from, to: None, sample: 5 }, &log().vkey(), &[witness().vkey()]).await.unwrap()
}

#[tokio::test]
async fn an_unmodified_bundle_verifies_whole_or_as_a_range() {
    let dir = Dir::new();
    let store = ledger(&dir, false).await;
    let whole = bundle(&store, 0).await;
    let report = verify(&whole, &trust());
    assert!(report.ok(), "{:#?}", report.failures);
    assert_eq!(report.entries, store.size().await.unwrap());
    assert_eq!((report.gaps, report.approval_events), (1, 1));
    assert_eq!(report.streams.len(), 3);
    assert_eq!(report.witnesses, ["witness.test"]);
    assert!(report.proofs >= 5);
    assert!(
        report.notes.iter().any(|n| n.contains("3 records dropped by the proxy and reported")),
        "{:?}",
        report.notes
    );

    let range = bundle(&store, 20).await;
    assert!(range.from > 0 && range.first.is_some() && !range.prefix_hashes.is_empty());
    let report = verify(&range, &trust());
    assert!(report.ok(), "{:#?}", report.failures);

    // Another log key, or a missing witness cosignature when one is required: refused.
    let other = Trust {
        log: LogVerifier::new(&LogSigner::new("warden.test/evidence", [5; 32]).unwrap().vkey()).unwrap(),
        ..trust()
    };
    assert!(!verify(&whole, &other).ok());
    let two = Trust { required_witnesses: 2, ..trust() };
    assert!(!verify(&whole, &two).ok());
}

#[tokio::test]
async fn a_record_lost_without_a_gap_record_fails_verification() {
    let dir = Dir::new();
    let store = ledger(&dir, true).await;
    let report = verify(&bundle(&store, 0).await, &trust());
    assert!(report.failures.iter().any(|f| f.contains("1 lost without a trace")), "{:#?}", report.failures);
}

/// A small deterministic generator (xorshift), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn edit_text(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len());
    let replacement = ['0', '7', 'a', 'z', '"', '{', ' ', 'Q'][rng.below(8)];
    chars[at] = if chars[at] == replacement { 'x' } else { replacement };
    if chars.iter().collect::<String>() == text {
        chars.push('x');
    }
    chars.into_iter().collect()
}

fn mutate(original: &Bundle, rng: &mut Rng) -> (Bundle, &'static str) {
    let mut b = original.clone();
    let n = b.entries.len();
    let kind = rng.below(13);
    let what = match kind {
        0 => {
            let i = rng.below(n);
            b.entries[i] = edit_text(&b.entries[i], rng);
            "edit an entry"
        }
        1 => {
            b.entries.remove(rng.below(n));
            "delete an entry"
        }
        2 => {
            let copy = b.entries[rng.below(n)].clone();
            b.entries.insert(rng.below(n + 1), copy);
            "insert a copy of an entry"
        }
        3 => {
            let i = rng.below(n);
            let j = (i + 1 + rng.below(n - 1)) % n;
            b.entries.swap(i, j);
            "reorder two entries"
        }
        4 => {
            let k = 1 + rng.below(5.min(n));
            b.entries.truncate(n - k);
            "truncate the tail"
        }
        5 => {
            if let Some(first) = b.first.take() {
                b.first = Some(b.last.clone());
                b.last = first;
            } else {
                b.last.size -= 1;
            }
            "swap the checkpoints"
        }
        6 => {
            let note = b.last.note.clone();
            let size_line = format!("\n{}\n", b.last.size);
            b.last.note = note.replacen(&size_line, &format!("\n{}\n", b.last.size + 1), 1);
            b.last.size += 1;
            b.entries.push(b.entries[n - 1].clone());
            "forge the checkpoint's size"
        }
        7 => {
            b.last.note =
                b.last.note.lines().filter(|l| !l.starts_with("— witness.test")).map(|l| format!("{l}\n")).collect();
            "drop the witness cosignature"
        }
        8 => match b.prefix_hashes.keys().copied().collect::<Vec<_>>() {
            keys if !keys.is_empty() => {
                let key = keys[rng.below(keys.len())];
                let text = b.prefix_hashes[&key].clone();
                b.prefix_hashes.insert(
                    key,
                    format!("{}{}", if text.starts_with('0') { '1' } else { '0' }, text.get(1..).unwrap_or_default()),
                );
                "edit a hash of the tree before the range"
            }
            _ => {
                b.from += 1;
                "move the range's start"
            }
        },
        9 => {
            if b.consistency.is_empty() {
                b.entries.remove(0);
                "drop the first entry"
            } else {
                let i = rng.below(b.consistency.len());
                b.consistency[i] = "00".repeat(32);
                "edit the consistency proof"
            }
        }
        10 => {
            let keys: Vec<u64> = b.proofs.keys().copied().collect();
            let key = keys[rng.below(keys.len())];
            let text = b.proofs[&key].clone();
            // Edit a hash line of the proof (between the index line and the blank line).
            let lines: Vec<&str> = text.split('\n').collect();
            let hashes = lines.iter().skip(2).take_while(|l| !l.is_empty()).count();
            let replaced = if hashes > 0 {
                let at = 2 + rng.below(hashes);
                let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                edited[at] = "A".repeat(43) + "=";
                edited.join("\n")
            } else {
                text.replacen(&format!("index {key}"), &format!("index {}", key + 1), 1)
            };
            b.proofs.insert(key, replaced);
            "edit an inclusion proof"
        }
        12 => {
            let version = b.policies.keys().next().unwrap().clone();
            let document = b.policies[&version].replace("/orders", "/ordersX");
            b.policies.insert(version, document);
            "replace a policy document"
        }
        _ => {
            // Re-sign the edited log with another key under the log's name.
            let i = rng.below(n);
            b.entries[i] = edit_text(&b.entries[i], rng);
            let mut tree = warden_evidence::core::merkle::MemoryTree::new();
            for e in &b.entries {
                tree.append(e.as_bytes()).unwrap();
            }
            if b.from == 0 {
                let impostor = LogSigner::new("warden.test/evidence", [6; 32]).unwrap();
                let size = tree.size();
                b.last = warden_evidence::core::bundle::BundleCheckpoint {
                    size,
                    note: String::from_utf8(impostor.sign(size, tree.root(size).unwrap()).unwrap()).unwrap(),
                };
            }
            "edit an entry and re-sign with another key"
        }
    };
    (b, what)
}

#[tokio::test]
async fn a_thousand_random_tamperings_are_all_detected() {
    let dir = Dir::new();
    let store = ledger(&dir, false).await;
    let bundles = [bundle(&store, 0).await, bundle(&store, 20).await];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut kinds = std::collections::BTreeMap::new();
    for round in 0..1000 {
        let original = &bundles[round % 2];
        let (tampered, what) = mutate(original, &mut rng);
        if &tampered == original {
            continue;
        }
        let report = verify(&tampered, &trust());
        assert!(!report.ok(), "round {round}: {what} went undetected");
        *kinds.entry(what).or_insert(0) += 1;
    }
    assert!(kinds.len() >= 13, "every kind of tampering was tried: {kinds:?}");
    assert!(kinds.values().sum::<i32>() >= 990, "{kinds:?}");
}

/// The Python interpreter with `cryptography` (`ci/setup` installs it into `.venv`).
fn python() -> std::path::PathBuf {
    std::env::var_os("WARDEN_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

fn independent_verify(bundle: &Bundle, dir: &Dir) -> (bool, String) {
    let path = dir.path.join(format!("bundle-{}.json", bundle.entries.len()));
    std::fs::write(&path, serde_json::to_vec(bundle).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/verify_bundle.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .arg(&path)
        .args(["--log-key", &log().vkey(), "--witness-key", &witness().vkey()])
        .output()
        .unwrap_or_else(|e| {
            panic!("{} (run ci/setup: it installs Python's cryptography into .venv): {e}", python().display())
        });
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn an_independent_verifier_agrees_on_checkpoints_roots_and_proofs() {
    let dir = Dir::new();
    let store = ledger(&dir, false).await;
    let whole = bundle(&store, 0).await;
    let (ok, output) = independent_verify(&whole, &dir);
    assert!(ok, "{output}");
    assert!(output.contains(&format!("verified {} entries", whole.last.size)), "{output}");
    // And it is not a verifier that accepts anything.
    let mut edited = whole.clone();
    edited.entries[3] = edited.entries[3].replace("/orders/", "/orderz/");
    let (ok, output) = independent_verify(&edited, &dir);
    assert!(!ok, "{output}");
    let mut forged = whole.clone();
    forged.last.note = forged.last.note.replacen(&format!("\n{}\n", whole.last.size), "\n3\n", 1);
    let (ok, output) = independent_verify(&forged, &dir);
    assert!(!ok, "{output}");
}

/// A log of three entries, the third one `third`, checkpointed and cosigned.
async fn small_log(dir: &Dir, name: &str, third: &str) -> Store {
    let store = Store::connect(&dir.sqlite_url(name)).await.unwrap();
    let mut stream = Stream::new(b"fork");
    let entries: Vec<NewEntry> =
        ["/orders/1", "/orders/2", third].iter().map(|path| record_entry(&mut stream, path)).collect();
    store.append(&entries, T0).await.unwrap();
    let checkpoint = store.checkpoint(&log(), T0).await.unwrap();
    let cosigned = add_cosignature(checkpoint.note.as_bytes(), &witness()).unwrap();
    store.store_cosigned(checkpoint.size, &String::from_utf8(cosigned).unwrap()).await.unwrap();
    store
}

#[tokio::test]
async fn a_forked_log_two_signed_roots_for_one_size_is_refused_even_when_cosigned() {
    let dir = Dir::new();
    let honest = small_log(&dir, "a.db", "/orders/3").await;
    let other = small_log(&dir, "b.db", "/orders/3-rewritten").await;
    let mut forked = bundle(&honest, 0).await;
    assert!(verify(&forked, &trust()).ok(), "the honest bundle verifies");
    // The other history's proof of entry 0 (the same bytes in both): it verifies against the
    // other root, which the log signed (and a witness cosigned) for the same size.
    let other_checkpoint = other.checkpoint_at(3).await.unwrap().unwrap();
    let hashes = other.inclusion_proof(0, 3).await.unwrap();
    forked.proofs.insert(0, warden_evidence::core::bundle::tlog_proof(0, &hashes, &other_checkpoint.note));
    for required_witnesses in [0, 1] {
        let report = verify(&forked, &Trust { required_witnesses, ..trust() });
        assert!(
            report.failures.iter().any(|f| f.starts_with("FORKED LOG") && f.contains("tree size 3")),
            "{required_witnesses} witnesses: {:#?}",
            report.failures
        );
    }
}
