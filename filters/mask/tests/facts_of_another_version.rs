//! A decision fact this build cannot read (another module's version) may hold masking
//! obligations: the body is refused, never passed unmasked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::testing::FakeHost;

#[test]
fn a_decision_of_another_version_refuses_the_body_instead_of_skipping_its_obligations() {
    let config = r#"{"profiles": {"pii": {"detectors": ["email"]}}}"#;
    let chain = warden_mask::STAGE.standalone(config.as_bytes()).unwrap();
    let mut host = FakeHost::with_request(&[(":method", "GET"), (":path", "/")]);
    let decision =
        r#"{"v":2,"effect":"allow","rules":[],"reasons":[],"policy":"p","mask":[{"profile":"pii","response":true}]}"#;
    host.filter_state.insert("warden.decision".into(), decision.as_bytes().to_vec());
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    host.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())];
    run.on_response_headers(&mut host, false);
    let reply = host.local_reply.as_ref().expect("refused");
    assert_eq!((reply.status, reply.body.contains("mask_decision_unreadable")), (500, true), "{}", reply.body);
}
