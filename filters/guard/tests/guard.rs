//! What the guard does to requests, through the real chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use warden_guard::STAGE;
use warden_kit::testing::FakeHost;
use warden_kit::Step;

fn host(headers: &[(&str, &str)]) -> FakeHost {
    FakeHost::with_request(headers)
}

#[test]
fn spoofed_identity_headers_are_removed_before_the_upstream() {
    let chain = STAGE.standalone(br#"{"strip_request_headers":["x-warden-*","x-user"]}"#).unwrap();
    let mut h = host(&[(":method", "GET"), ("x-warden-subject", "admin"), ("x-user", "root"), ("x-keep", "1")]);
    assert_eq!(chain.start().on_request_headers(&mut h, true), Step::Continue);
    assert_eq!(h.request_header("x-warden-subject"), None);
    assert_eq!(h.request_header("x-user"), None);
    assert_eq!(h.request_header("x-keep"), Some("1"));
    assert_eq!(h.metrics.get("warden_guard_stripped_total"), Some(&2));
}

#[test]
fn disallowed_method_gets_405_with_allow_header() {
    let chain = STAGE.standalone(br#"{"allowed_methods":["GET","POST"]}"#).unwrap();
    let mut h = host(&[(":method", "DELETE")]);
    assert_eq!(chain.start().on_request_headers(&mut h, true), Step::Pause);
    let reply = h.local_reply.unwrap();
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers, vec![("allow".to_string(), "GET, POST".to_string())]);
}

#[test]
fn missing_required_header_gets_400_naming_the_header() {
    let chain = STAGE.standalone(br#"{"required_headers":["x-tenant"]}"#).unwrap();
    let mut h = host(&[(":method", "GET")]);
    chain.start().on_request_headers(&mut h, true);
    assert_eq!(
        h.local_reply.as_ref().map(|r| (r.status, r.body.as_str())),
        Some((400, "missing required header x-tenant"))
    );
}

#[test]
fn declared_oversized_body_is_refused_before_buffering() {
    let chain = STAGE.standalone(br#"{"max_request_body_bytes":10}"#).unwrap();
    let mut h = host(&[(":method", "POST"), ("content-length", "11")]);
    assert_eq!(chain.start().on_request_headers(&mut h, false), Step::Pause);
    assert_eq!(h.local_reply.map(|r| r.status), Some(413));
}

#[test]
fn chunked_oversized_body_is_refused_at_end_of_stream() {
    let chain = STAGE.standalone(br#"{"max_request_body_bytes":10}"#).unwrap();
    let mut h = host(&[(":method", "POST"), ("transfer-encoding", "chunked")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut h, false), Step::Continue);
    h.request_body = b"0123456789ab".to_vec();
    assert_eq!(run.on_request_body(&mut h, 12, true), Step::Pause);
    assert_eq!(h.local_reply.map(|r| r.status), Some(413));
}

#[test]
fn body_within_limit_passes() {
    let chain = STAGE.standalone(br#"{"max_request_body_bytes":10}"#).unwrap();
    let mut h = host(&[(":method", "POST")]);
    let mut run = chain.start();
    run.on_request_headers(&mut h, false);
    h.request_body = b"small".to_vec();
    assert_eq!(run.on_request_body(&mut h, 5, true), Step::Continue);
    assert!(h.local_reply.is_none());
}

#[test]
fn bad_configuration_names_the_field() {
    let err = STAGE.standalone(br#"{"strip_request_headers":["x-ok",":authority"]}"#).err().unwrap();
    assert_eq!(err.field, "strip_request_headers[1]");
    let err = STAGE.standalone(br#"{"allowed_methods":["get"]}"#).err().unwrap();
    assert_eq!(err.field, "allowed_methods[0]");
    let err = STAGE.standalone(br#"{"max_request_body_bytes":2000000}"#).err().unwrap();
    assert_eq!(err.field, "max_request_body_bytes");
    let err = STAGE.standalone(br#"{"allowed_method":["GET"]}"#).err().unwrap();
    assert!(err.message.contains("unknown field"), "{err}");
}
