//! Shipping records to the ledger from a VM, as the ledger's availability changes: nothing is
//! lost while it is down (kept, retried with backoff, sent again unchanged and in order), a
//! full buffer drops and counts (for a gap record), a batch refused for good counts as dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_audit::ledger::{Delivery, Ledger, LedgerConfig, Shipper};
use warden_kit::CalloutResponse;

fn ledger(batch: usize, buffer: usize) -> Ledger {
    let config: LedgerConfig = serde_json::from_value(serde_json::json!({
        "cluster": "warden", "key": "wpk_test", "batch_records": batch, "buffer_records": buffer, "max_backoff_ms": 2000
    }))
    .unwrap();
    Ledger::compile(config).unwrap()
}

fn answer(status: u16) -> CalloutResponse {
    CalloutResponse { status, tag: warden_audit::ledger::TAG.into(), ..CalloutResponse::default() }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

#[test]
fn while_the_ledger_is_down_nothing_is_lost_and_order_is_kept() {
    let ledger = ledger(100, 10_000);
    let mut shipper = Shipper::default();
    for i in 0..250 {
        assert!(shipper.push(&ledger, format!("{{\"seq\":{i}}}").into_bytes()));
    }
    let mut delivered: Vec<String> = Vec::new();
    let mut now = 0;
    let mut down_for = 6; // the ledger answers 503 (and then times out) to the first six tries
    let mut tries = 0;
    while !shipper.is_empty() {
        now += 50;
        let Some(batch) = shipper.next_batch(&ledger, at(now)) else { continue };
        assert!(batch.headers.contains(&("authorization".into(), "Bearer wpk_test".into())));
        assert!(shipper.next_batch(&ledger, at(now)).is_none(), "one batch in flight at a time");
        tries += 1;
        if down_for > 0 {
            down_for -= 1;
            let status = if down_for % 2 == 0 { 503 } else { 504 };
            assert_eq!(shipper.answered(&ledger, &answer(status), at(now)), Delivery::Retrying(status));
            continue;
        }
        let lines: Vec<String> = String::from_utf8(batch.body).unwrap().lines().map(str::to_string).collect();
        assert_eq!(shipper.answered(&ledger, &answer(200), at(now)), Delivery::Delivered(lines.len()));
        delivered.extend(lines);
        assert!(tries < 50, "delivery does not converge");
    }
    let expected: Vec<String> = (0..250).map(|i| format!("{{\"seq\":{i}}}")).collect();
    assert_eq!(delivered, expected, "every record once, in order");
    assert_eq!(shipper.dropped, 0);
    assert!(now >= 100 + 200 + 400 + 800 + 1600, "retries backed off exponentially ({now} ms)");
}

#[test]
fn a_full_buffer_drops_and_counts_and_a_refused_batch_counts_as_dropped() {
    let ledger = ledger(10, 20);
    let mut shipper = Shipper::default();
    for i in 0..25 {
        let kept = shipper.push(&ledger, format!("r{i}").into_bytes());
        assert_eq!(kept, i < 20);
    }
    assert_eq!((shipper.len(), shipper.dropped), (20, 5));
    assert!(shipper.next_batch(&ledger, at(0)).is_some());
    assert_eq!(shipper.answered(&ledger, &answer(400), at(0)), Delivery::Refused(400, 10));
    assert_eq!((shipper.len(), shipper.dropped), (10, 15), "refused records count as dropped, for the gap record");
    assert!(shipper.has_room(&ledger));
}

#[test]
fn a_ledger_section_is_validated_naming_the_field() {
    let bad = |value: serde_json::Value| {
        let config: LedgerConfig = serde_json::from_value(value).unwrap();
        Ledger::compile(config).unwrap_err().field
    };
    assert_eq!(bad(serde_json::json!({"cluster": "", "key": "k"})), "cluster");
    assert_eq!(bad(serde_json::json!({"cluster": "c", "key": ""})), "key");
    assert_eq!(
        bad(serde_json::json!({"cluster": "c", "key": "k", "batch_records": 100, "buffer_records": 10})),
        "buffer_records"
    );
    assert_eq!(bad(serde_json::json!({"cluster": "c", "key": "k", "path": "v1"})), "path");
}

#[test]
fn an_ending_instance_ships_at_once_despite_a_running_backoff() {
    let ledger = ledger(100, 1000);
    let mut shipper = Shipper::default();
    assert!(shipper.push(&ledger, b"{\"seq\":0}".to_vec()));
    shipper.next_batch(&ledger, at(0)).unwrap();
    assert_eq!(shipper.answered(&ledger, &answer(503), at(0)), Delivery::Retrying(503));
    assert!(shipper.next_batch(&ledger, at(10)).is_none(), "backing off");
    shipper.skip_backoff();
    let batch = shipper.next_batch(&ledger, at(10)).expect("the drain sends the held record now");
    assert_eq!(batch.body, b"{\"seq\":0}\n");
}
