//! Separately deployed modules of different releases exchange facts through filter state: an
//! identity fact this build cannot read is refused, not read as "anonymous".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_kit::testing::FakeHost;

#[test]
fn an_identity_fact_of_another_version_is_refused_not_read_as_anonymous() {
    // Anonymous callers are allowed here: reading the fact as absent would let this through.
    let config = r#"{"default": "allow", "policies": [{"name": "p", "rules": [{"id": "no-deletes", "match": {"methods": ["DELETE"]}, "effect": "deny"}]}]}"#;
    let chain = warden_policy::STAGE.standalone(config.as_bytes()).unwrap();
    for fact in [
        r#"{"v":2,"subject":"alice","issuer":"i","kind":"human","method":"jwt"}"#,
        r#"{"subject":"alice","issuer":"i","kind":"human","method":"jwt"}"#,
        r#"{"v":1,"subject":["alice"],"issuer":"i","kind":"human","method":"jwt"}"#,
    ] {
        let mut host = FakeHost::with_request(&[(":method", "GET"), (":path", "/"), (":authority", "api")]);
        host.filter_state.insert("warden.identity".into(), fact.as_bytes().to_vec());
        chain.start().on_request_headers(&mut host, true);
        let reply = host.local_reply.as_ref().unwrap_or_else(|| panic!("{fact}: let through"));
        assert_eq!((reply.status, reply.body.contains("identity_fact_unreadable")), (500, true), "{fact}");
    }
    let mut host = FakeHost::with_request(&[(":method", "GET"), (":path", "/"), (":authority", "api")]);
    chain.start().on_request_headers(&mut host, true);
    assert!(host.local_reply.is_none(), "no identity at all is anonymous, and allowed here");
}
