//! Signed checkpoints and witness cosignatures: interoperable with other implementations
//! (published notes verify here), and nothing altered, forged or missing is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_evidence::core::checkpoint::{add_cosignature, open, CheckpointError, LogSigner, LogVerifier};
use warden_evidence::core::cosign::{WitnessSigner, WitnessVerifier};
use warden_evidence::core::merkle::MemoryTree;

const ORIGIN: &str = "warden.example/evidence";

fn log() -> LogSigner {
    LogSigner::new(ORIGIN, [7; 32]).unwrap()
}

fn witness(name: &str, seed: u8, time: u64) -> WitnessSigner {
    WitnessSigner::new(name, [seed; 32], time).unwrap()
}

fn tree(size: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
    }
    tree
}

/// A checkpoint of a real log (Certificate Transparency's arche2025h1 staging log), cosigned
/// by real witnesses (one of them remora.n621.de, cosignature/v1); the other signature lines
/// are of keys not given here and must be ignored.
const REAL_CHECKPOINT: &str = "arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
";
const REAL_LOG_KEY: &str =
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
const REAL_WITNESS_KEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

#[test]
fn a_published_checkpoint_with_a_real_witness_cosignature_verifies() {
    let log = LogVerifier::new(REAL_LOG_KEY).unwrap();
    let witness = WitnessVerifier::new(REAL_WITNESS_KEY).unwrap();
    let opened = open(REAL_CHECKPOINT.as_bytes(), &log, std::slice::from_ref(&witness), 1).unwrap();
    assert_eq!(opened.checkpoint.size, 1_432_088_532);
    assert_eq!(opened.witnesses, vec!["remora.n621.de".to_string()]);
    assert!(opened.cosigned_at[0].1 > 1_700_000_000, "the cosignature carries its time");
    // The same note with its size changed: every known signature fails.
    let clobbered = REAL_CHECKPOINT.replace("1432088532", "42");
    assert!(open(clobbered.as_bytes(), &log, &[witness], 1).is_err());
}

#[test]
fn the_log_signs_checkpoints_auditors_open_with_its_verifier_key() {
    let log = log();
    let tree = tree(5);
    let note = log.sign(5, tree.root(5).unwrap()).unwrap();
    let text = String::from_utf8(note.clone()).unwrap();
    assert!(text.starts_with(&format!("{ORIGIN}\n5\n")), "{text}");
    assert!(text.contains(&format!("\n— {ORIGIN} ")), "{text}");
    let verifier = LogVerifier::new(&log.vkey()).unwrap();
    let opened = open(&note, &verifier, &[], 0).unwrap();
    assert_eq!(opened.checkpoint.size, 5);
    assert_eq!(opened.checkpoint.root, tree.root(5).unwrap());
}

#[test]
fn altered_forged_or_foreign_checkpoints_are_refused() {
    let log = log();
    let verifier = LogVerifier::new(&log.vkey()).unwrap();
    let note = log.sign(5, tree(5).root(5).unwrap()).unwrap();
    let text = String::from_utf8(note.clone()).unwrap();

    let bigger = text.replacen("\n5\n", "\n6\n", 1);
    assert!(matches!(open(bigger.as_bytes(), &verifier, &[], 0), Err(CheckpointError::BadSignature(_))));

    // Signed by another key under the log's name: not the log's signature.
    let impostor = LogSigner::new(ORIGIN, [8; 32]).unwrap();
    let forged = impostor.sign(5, tree(6).root(5).unwrap()).unwrap();
    assert!(matches!(open(&forged, &verifier, &[], 0), Err(CheckpointError::LogSignature(_))));

    // Another log's checkpoint, even validly signed by it.
    let other = LogSigner::new("elsewhere.example/log", [7; 32]).unwrap();
    let foreign = other.sign(5, tree(5).root(5).unwrap()).unwrap();
    assert!(open(&foreign, &verifier, &[], 0).is_err());

    assert!(matches!(open(b"not a note", &verifier, &[], 0), Err(CheckpointError::Malformed(_))));
}

#[test]
fn a_checkpoint_can_require_n_distinct_witness_cosignatures() {
    let log = log();
    let verifier = LogVerifier::new(&log.vkey()).unwrap();
    let note = log.sign(3, tree(3).root(3).unwrap()).unwrap();
    let (a, b) = (witness("witness-a.example", 1, 1_790_000_000), witness("witness-b.example", 2, 1_790_000_001));
    let trusted = [WitnessVerifier::new(&a.vkey()).unwrap(), WitnessVerifier::new(&b.vkey()).unwrap()];

    assert!(matches!(open(&note, &verifier, &trusted, 1), Err(CheckpointError::Witnesses { found: 0, required: 1 })));
    let once = add_cosignature(&note, &a).unwrap();
    assert_eq!(open(&once, &verifier, &trusted, 1).unwrap().witnesses, vec!["witness-a.example"]);
    // The same witness twice is still one witness.
    let again = add_cosignature(&once, &witness("witness-a.example", 1, 1_790_000_009)).unwrap();
    assert!(open(&again, &verifier, &trusted, 2).is_err());
    let twice = add_cosignature(&once, &b).unwrap();
    let opened = open(&twice, &verifier, &trusted, 2).unwrap();
    assert_eq!(opened.witnesses.len(), 2);
    assert_eq!(opened.cosigned_at[1], ("witness-b.example".to_string(), 1_790_000_001));

    // Dropping a cosignature line falls below the requirement.
    let text = String::from_utf8(twice.clone()).unwrap();
    let dropped: String =
        text.lines().filter(|l| !l.starts_with("— witness-b.example")).map(|l| format!("{l}\n")).collect();
    assert!(matches!(open(dropped.as_bytes(), &verifier, &trusted, 2), Err(CheckpointError::Witnesses { .. })));
    // A witness signature over another time (replayed line with its time edited) fails.
    let line = text.lines().find(|l| l.starts_with("— witness-b.example")).unwrap();
    let mut forged_line = line.to_string();
    let last = forged_line.pop().unwrap();
    forged_line.push(if last == 'A' { 'B' } else { 'A' });
    let forged = text.replace(line, &forged_line);
    assert!(open(forged.as_bytes(), &verifier, &trusted, 1).is_err());
}

#[test]
fn verifier_keys_are_checked() {
    let log = log();
    assert!(LogVerifier::new(&log.vkey()).is_ok());
    // A witness key is not a log key and the other way round (algorithm byte).
    let w = witness("w.example", 3, 1);
    assert!(LogVerifier::new(&w.vkey()).is_err());
    assert!(WitnessVerifier::new(&log.vkey()).is_err());
    // A wrong key id.
    let vkey = log.vkey();
    let mut parts: Vec<&str> = vkey.splitn(3, '+').collect();
    parts[1] = "00000000";
    assert!(LogVerifier::new(&parts.join("+")).is_err());
    assert!(LogSigner::new("has space", [1; 32]).is_err());
}
