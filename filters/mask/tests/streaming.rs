//! The masking stage on streamed bodies, through the kit's chain with an in-memory host: event
//! streams and NDJSON are masked line by line as chunks arrive, nothing is held back but an
//! unfinished line, and the carried-over line is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::facts::{MaskingFact, MASKING};
use warden_kit::testing::FakeHost;
use warden_kit::{ChainRun, Step};

fn start(config: &str, request: &[(&str, &str)]) -> (ChainRun, FakeHost) {
    let chain = warden_mask::STAGE.standalone(config.as_bytes()).expect("config compiles");
    let mut host = FakeHost::with_request(request);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Continue);
    (run, host)
}

/// Feeds `chunks` as separate response body callbacks (each one alone in the proxy's buffer,
/// as when nothing was paused) and returns what left for the client after each one.
fn respond(run: &mut ChainRun, host: &mut FakeHost, content_type: &str, chunks: &[&str]) -> Vec<String> {
    host.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), content_type.into())];
    assert_eq!(run.on_response_headers(host, false), Step::Continue);
    let mut sent = Vec::new();
    for (n, chunk) in chunks.iter().enumerate() {
        host.response_body = chunk.as_bytes().to_vec();
        let step = run.on_response_body(host, chunk.len(), n + 1 == chunks.len());
        if host.local_reply.is_some() {
            break;
        }
        assert_eq!(step, Step::Continue, "chunk {n} was held back");
        sent.push(String::from_utf8(host.response_body.clone()).unwrap());
    }
    sent
}

fn masking(host: &FakeHost) -> MaskingFact {
    host.fact(MASKING).expect("warden.masking written")
}

const RESPONSE_PII: &str =
    r#"{"obligations": false, "response": "pii", "profiles": {"pii": {"detectors": ["email", "payment_card"]}}}"#;

#[test]
fn event_stream_is_masked_event_by_event_as_chunks_arrive() {
    let (mut run, mut host) = start(RESPONSE_PII, &[(":path", "/v1/chat"), (":method", "POST")]);
    let sent = respond(
        &mut run,
        &mut host,
        "text/event-stream",
        &["data: {\"t\":\"to ada@exa", "mple.com\"}\n\ndata: {\"t\":\"hi\"}\n\n", "data: 4111 1111 1111 1111\n\n", ""],
    );
    assert_eq!(
        sent,
        vec![
            "".to_string(), // the unfinished line waits: its email is cut in two
            "data: {\"t\":\"to [EMAIL]\"}\n\ndata: {\"t\":\"hi\"}\n\n".into(),
            "data: [PAYMENT_CARD]\n\n".into(),
            "".into(),
        ]
    );
    assert!(host.response_headers.iter().all(|(k, _)| k != "content-length"));
    let report = masking(&host).response.expect("response report");
    assert_eq!(report.counts.get("email"), Some(&1));
    assert_eq!(report.counts.get("payment_card"), Some(&1));
    assert_eq!(report.format.map(|f| f.name()), Some("event_stream"));
    assert_eq!(host.metrics.get("warden_mask_response_values_total"), Some(&2));
}

#[test]
fn report_is_written_as_soon_as_something_is_masked_not_only_at_the_end() {
    let (mut run, mut host) = start(RESPONSE_PII, &[(":path", "/")]);
    respond(&mut run, &mut host, "application/x-ndjson", &["{\"e\":\"ada@example.com\"}\n{\"e\":"]);
    let report = masking(&host).response.expect("report before the stream ends");
    assert_eq!(report.counts.get("email"), Some(&1));
}

#[test]
fn a_request_event_stream_is_masked_chunk_by_chunk_too() {
    let config = r#"{"obligations": false, "request": "pii", "profiles": {"pii": {"detectors": ["email"]}}}"#;
    let chain = warden_mask::STAGE.standalone(config.as_bytes()).unwrap();
    let mut host = FakeHost::with_request(&[(":path", "/ingest"), ("content-type", "application/x-ndjson")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    let mut sent = Vec::new();
    for (n, chunk) in ["{\"a\":\"bob@exam", "ple.org\"}\n", ""].iter().enumerate() {
        host.request_body = chunk.as_bytes().to_vec();
        assert_eq!(run.on_request_body(&mut host, chunk.len(), n == 2), Step::Continue);
        sent.push(String::from_utf8(host.request_body.clone()).unwrap());
    }
    assert_eq!(sent.concat(), "{\"a\":\"[EMAIL]\"}\n");
    assert_eq!(sent[0], "", "the unfinished line was held, not sent");
}

#[test]
fn a_line_longer_than_the_limit_fails_closed() {
    let config = r#"{"obligations": false, "response": "pii", "max_body_bytes": 64,
                     "profiles": {"pii": {"detectors": ["email"]}}}"#;
    let (mut run, mut host) = start(config, &[(":path", "/")]);
    let long = format!("data: {}", "x".repeat(100));
    let sent = respond(&mut run, &mut host, "text/event-stream", &["data: ok\n\n", &long, "\n\n", ""]);
    assert_eq!(sent, vec!["data: ok\n\n".to_string()], "nothing after the long line left");
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(502));
    assert!(masking(&host).response.unwrap().notes.contains(&"line_too_long".to_string()));
}

#[test]
fn a_line_longer_than_the_limit_is_split_and_noted_when_failing_open() {
    let config = r#"{"obligations": false, "response": "pii", "max_body_bytes": 64, "failure_mode": "open",
                     "profiles": {"pii": {"detectors": ["email"]}}}"#;
    let (mut run, mut host) = start(config, &[(":path", "/")]);
    let long = format!("data: ada@example.com {}", "x".repeat(100));
    let sent = respond(&mut run, &mut host, "text/event-stream", &[&long, "\n\n", ""]);
    assert!(host.local_reply.is_none());
    assert!(sent.concat().starts_with("data: [EMAIL] xxx"), "{sent:?}");
    assert!(masking(&host).response.unwrap().notes.contains(&"line_too_long_split".to_string()));
}

#[test]
fn other_formats_are_still_buffered_whole() {
    let (mut run, mut host) = start(RESPONSE_PII, &[(":path", "/")]);
    host.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
    run.on_response_headers(&mut host, false);
    host.response_body = b"{\"e\":\"ada@".to_vec();
    assert_eq!(run.on_response_body(&mut host, 10, false), Step::Pause);
    host.response_body = b"{\"e\":\"ada@example.com\"}".to_vec();
    assert_eq!(run.on_response_body(&mut host, 23, true), Step::Continue);
    assert_eq!(host.response_body, b"{\"e\":\"[EMAIL]\"}");
}

#[test]
fn without_a_profile_or_a_decision_a_stream_passes_untouched_and_unreported() {
    // Obligations on, no static profile, and no policy stage to decide: nothing applies.
    let config = r#"{"profiles": {"pii": {"detectors": ["email"]}}}"#;
    let (mut run, mut host) = start(config, &[(":path", "/")]);
    let sent = respond(&mut run, &mut host, "text/event-stream", &["data: ada@exa", "mple.com\n\n", ""]);
    assert_eq!(sent.concat(), "data: ada@example.com\n\n");
    assert_eq!(sent[0], "data: ada@exa", "passed at once, not held");
    assert!(!host.filter_state.contains_key(MASKING.name()), "nothing reported");
}
