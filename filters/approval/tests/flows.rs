//! The approval stage's flows against a scripted service, natively (the same flows run
//! against the real service in the scenarios): nothing goes on unapproved, and every failure
//! of the service fails closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use std::rc::Rc;
use std::time::Duration;
use warden_approval::Approval as ApprovalStage;
use warden_kit::approval_api::{
    Action, Approval, ApprovalView, Consumed, ErrorBody, ErrorCode, Requester, Requirement, Status,
};
use warden_kit::facts::{self, ApprovalStatus, IdentityFact, SubjectKind};
use warden_kit::receipt::{key_id, Decider, Party, Receipt, SignedReceipt};
use warden_kit::testing::FakeHost;
use warden_kit::{CalloutResponse, Chain, ChainRun, Cx, Flow, Stage, StageKind, Step};

/// Writes the facts the identity and policy stages would.
struct Given {
    decision: Value,
}

impl Stage for Given {
    fn name(&self) -> &'static str {
        "given"
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let identity = IdentityFact {
            v: 1,
            subject: "alice".into(),
            issuer: "https://idp".into(),
            kind: SubjectKind::Human,
            actors: vec![],
            groups: vec![],
            scopes: vec![],
            method: warden_kit::facts::IdentityMethod::Jwt,
            expires_at: None,
            claims: Default::default(),
        };
        cx.facts.write(facts::IDENTITY, &identity);
        cx.facts.write(facts::DECISION, &serde_json::from_value(self.decision.clone()).unwrap());
        Flow::Continue
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn decision(effect: &str, mode: &str) -> Value {
    json!({"v": 1, "effect": effect, "rules": ["deletes"], "reasons": ["deletes need approval"], "policy": "sha256:00",
           "approval": {"groups": ["dba"], "users": [], "min_approvals": 1, "ttl_secs": 600, "use_by_secs": 300, "mode": mode, "hold_timeout_ms": 10000}})
}

fn chain(decision: Value) -> Chain {
    let config = json!({"service": {"cluster": "approvals", "key": "wpk_secret"},
                        "receipt_public_key": URL_SAFE_NO_PAD.encode(key().verifying_key().as_bytes())});
    let approval = ApprovalStage::compile(serde_json::from_value(config).unwrap()).unwrap();
    Chain::new(vec![Rc::new(Given { decision }) as Rc<dyn Stage>, Rc::new(approval)])
}

fn host(method: &str, extra: &[(&str, &str)]) -> FakeHost {
    let mut headers =
        vec![(":method", method), (":path", "/customers/42"), (":authority", "api.internal"), ("x-request-id", "r1")];
    headers.extend_from_slice(extra);
    let mut host = FakeHost::with_request(&headers);
    host.clusters.push("approvals".into());
    host
}

/// The service's answer to a create or wait: an approval in `status`, as the API's types
/// shape it.
fn shown(status: &str) -> CalloutResponse {
    CalloutResponse { status: 200, body: serde_json::to_vec(&view(status)).unwrap(), ..Default::default() }
}

fn view(status: &str) -> ApprovalView {
    let approval = Approval {
        id: "apr_1".into(),
        digest: format!("sha256:{}", "0".repeat(64)),
        requester: Requester {
            subject: "alice".into(),
            issuer: "https://idp".into(),
            kind: SubjectKind::Human,
            actors: vec![],
        },
        action: Action {
            method: "DELETE".into(),
            authority: "api.internal".into(),
            path: "/customers/42".into(),
            ..Default::default()
        },
        requirement: Requirement {
            groups: vec!["dba".into()],
            users: vec![],
            min_approvals: 1,
            all_groups: false,
            deny_threshold: 1,
            pending_ttl_secs: 600,
            use_by_secs: 300,
            max_auth_age_secs: None,
        },
        status: Status::parse(status).unwrap(),
        created_at: 1_899_999_400,
        decide_by: 1_900_000_000,
        decided_at: None,
        use_by: None,
        consumed_at: None,
        forced: false,
        reason: Some("not today".into()),
        votes: vec![],
    };
    ApprovalView { approval, status_url: "http://svc/v1/approvals/apr_1".into() }
}

fn receipt(digest: &str, signer: &SigningKey) -> CalloutResponse {
    let receipt = Receipt {
        v: 1,
        approval_id: "apr_1".into(),
        digest: digest.into(),
        requester: Party { subject: "alice".into(), issuer: "https://idp".into() },
        decision: warden_kit::receipt::Outcome::Approved,
        deciders: vec![Decider {
            subject: "bob".into(),
            issuer: "https://idp".into(),
            decision: warden_kit::approval_api::VoteDecision::Approve,
            forced: false,
        }],
        forced: false,
        decided_at: 1_800_000_000,
        expires_at: Some(1_800_000_300),
    };
    let signature = signer.sign(&receipt.signed_bytes().unwrap());
    let signed = SignedReceipt {
        receipt,
        key_id: key_id(signer.verifying_key().as_bytes()),
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    };
    let consumed = Consumed { approval: view("consumed"), receipt: signed };
    CalloutResponse { status: 200, body: serde_json::to_vec(&consumed).unwrap(), ..Default::default() }
}

fn last_body(host: &FakeHost) -> Value {
    serde_json::from_slice(&host.callouts.last().unwrap().body).unwrap_or(Value::Null)
}

fn answer(run: &mut ChainRun, host: &mut FakeHost, response: CalloutResponse) {
    let token = host.callouts.len() as u32;
    run.on_callout_response(host, token, response);
}

fn reply(host: &FakeHost) -> (u16, Value) {
    let reply = host.local_reply.as_ref().expect("a local reply");
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

#[test]
fn a_request_that_needs_no_approval_costs_no_callout() {
    let chain = chain(decision("allow", "hold"));
    let mut host = host("DELETE", &[("x-warden-approval-id", "apr_forged")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Continue);
    assert!(host.callouts.is_empty());
    assert_eq!(host.request_header("x-warden-approval-id"), None, "a spoofed approval id is stripped");
}

#[test]
fn deferred_answers_202_with_the_id_then_the_retry_consumes_it() {
    let chain = chain(decision("require_approval", "deferred"));
    let mut host = host("DELETE", &[]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Pause);
    let create = host.callouts[0].clone();
    assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", "/v1/approvals"));
    assert_eq!(create.headers[0], ("authorization".into(), "Bearer wpk_secret".into()));
    let digest = last_body(&host)["digest"].as_str().unwrap().to_string();
    answer(&mut run, &mut host, shown("pending"));
    let (status, body) = reply(&host);
    assert_eq!(status, 202);
    assert_eq!(body["approval_id"], "apr_1");
    assert_eq!(body["retry_with"]["header"], "x-warden-approval");
    assert_eq!(host.fact(facts::APPROVAL).unwrap().status, ApprovalStatus::Pending);

    let mut host = self::host("DELETE", &[("x-warden-approval", "apr_1")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Pause);
    assert_eq!(host.callouts[0].path, "/v1/approvals/apr_1/consume");
    assert_eq!(last_body(&host), json!({"digest": digest, "subject": "alice", "issuer": "https://idp"}));
    answer(&mut run, &mut host, receipt(&digest, &key()));
    assert!(host.local_reply.is_none(), "{:?}", host.local_reply);
    assert_eq!(host.resumed, vec![false]);
    assert_eq!(host.request_header("x-warden-approval-id"), Some("apr_1"));
    assert_eq!(host.request_header("x-warden-approval"), None);
    let fact = host.fact(facts::APPROVAL).unwrap();
    assert_eq!((fact.status, fact.approver.as_deref()), (ApprovalStatus::Approved, Some("bob")));
    assert!(fact.receipt.is_some());
}

#[test]
fn hold_waits_then_consumes_when_approved() {
    let chain = chain(decision("require_approval", "hold"));
    let mut host = host("DELETE", &[]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    let digest = last_body(&host)["digest"].as_str().unwrap().to_string();
    answer(&mut run, &mut host, CalloutResponse { status: 201, ..shown("pending") });
    assert_eq!(host.callouts[1].path, "/v1/approvals/apr_1?wait=10s");
    answer(&mut run, &mut host, shown("pending"));
    assert_eq!(host.callouts.len(), 3, "still pending within the hold: wait again");
    answer(&mut run, &mut host, shown("approved"));
    assert_eq!(host.callouts[3].path, "/v1/approvals/apr_1/consume");
    answer(&mut run, &mut host, receipt(&digest, &key()));
    assert!(host.local_reply.is_none());
    assert_eq!(host.resumed, vec![false]);
}

#[test]
fn hold_denied_answers_403_with_the_reason() {
    let chain = chain(decision("require_approval", "hold"));
    let mut host = host("DELETE", &[]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    answer(&mut run, &mut host, shown("pending"));
    answer(&mut run, &mut host, shown("denied"));
    let (status, body) = reply(&host);
    assert_eq!((status, body["error"].as_str()), (403, Some("approval_denied")));
    assert!(body["message"].as_str().unwrap().contains("not today"));
}

#[test]
fn a_hold_past_its_timeout_answers_with_the_id_for_the_deferred_flow() {
    let chain = chain(decision("require_approval", "hold"));
    let mut host = host("DELETE", &[]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    answer(&mut run, &mut host, shown("pending"));
    host.now += Duration::from_secs(11);
    answer(&mut run, &mut host, shown("pending"));
    let (status, body) = reply(&host);
    assert_eq!((status, body["approval_id"].as_str()), (202, Some("apr_1")));
    assert_eq!(host.fact(facts::APPROVAL).unwrap().status, ApprovalStatus::Timeout);
}

#[test]
fn every_service_failure_fails_closed() {
    let failures = [
        CalloutResponse { status: 503, ..Default::default() },
        CalloutResponse { status: 504, ..Default::default() },
        CalloutResponse { status: 200, body: b"<html>".to_vec(), ..Default::default() },
        CalloutResponse { status: 500, body: br#"{"id":"apr_1","status":"approved"}"#.to_vec(), ..Default::default() },
    ];
    for failure in failures {
        let chain = chain(decision("require_approval", "hold"));
        let mut host = host("DELETE", &[]);
        let mut run = chain.start();
        run.on_request_headers(&mut host, true);
        answer(&mut run, &mut host, failure.clone());
        let (status, body) = reply(&host);
        assert_eq!((status, body["error"].as_str()), (503, Some("approval_service_unavailable")), "{failure:?}");
        assert!(host.resumed.is_empty());
    }
    let mut host = host("DELETE", &[]);
    host.clusters.clear(); // the cluster is not even known
    let chain = chain(decision("require_approval", "hold"));
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    assert_eq!(reply(&host).0, 503);
}

/// A replica going away while a request is held: the failed wait is asked again (another
/// replica answers for the same approval), and the request completes once approved; failures
/// in a row beyond the retries still fail closed.
#[test]
fn a_failed_wait_is_asked_again_then_fails_closed() {
    let down = CalloutResponse { status: 503, ..Default::default() };
    let chain = chain(decision("require_approval", "hold"));
    let mut held = host("DELETE", &[]);
    let mut run = chain.start();
    run.on_request_headers(&mut held, true);
    let digest = last_body(&held)["digest"].as_str().unwrap().to_string();
    answer(&mut run, &mut held, shown("pending"));
    answer(&mut run, &mut held, down.clone());
    assert_eq!(held.callouts.len(), 3, "the wait is asked again");
    assert!(held.callouts[2].path.starts_with("/v1/approvals/apr_1?wait="));
    assert_eq!(held.metrics.get("warden_approval_wait_retries_total"), Some(&1));
    answer(&mut run, &mut held, shown("approved"));
    answer(&mut run, &mut held, receipt(&digest, &key()));
    assert!(held.local_reply.is_none());
    assert_eq!(held.resumed, vec![false]);

    let mut host = host("DELETE", &[]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    answer(&mut run, &mut host, shown("pending"));
    for _ in 0..3 {
        answer(&mut run, &mut host, down.clone());
    }
    assert_eq!(host.callouts.len(), 4, "create, wait, and two waits asked again");
    let (status, body) = reply(&host);
    assert_eq!((status, body["error"].as_str()), (503, Some("approval_service_unavailable")));
    assert!(host.resumed.is_empty());
}

#[test]
fn a_receipt_not_signed_by_the_configured_key_is_not_an_approval() {
    let chain = chain(decision("require_approval", "deferred"));
    let mut host = host("DELETE", &[("x-warden-approval", "apr_1")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    let digest = last_body(&host)["digest"].as_str().unwrap().to_string();
    answer(&mut run, &mut host, receipt(&digest, &SigningKey::from_bytes(&[1; 32])));
    assert_eq!(reply(&host).0, 503);
    let mut host = self::host("DELETE", &[("x-warden-approval", "apr_1")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    answer(&mut run, &mut host, receipt("sha256:another-action", &key()));
    assert_eq!(reply(&host).0, 503, "a receipt for another action");
}

#[test]
fn a_refused_consume_answers_its_code() {
    for code in ["approval_pending", "approval_denied", "approval_expired", "approval_used", "approval_mismatch"] {
        let chain = chain(decision("require_approval", "deferred"));
        let mut host = host("DELETE", &[("x-warden-approval", "apr_1")]);
        let mut run = chain.start();
        run.on_request_headers(&mut host, true);
        let refusal = ErrorCode::ALL.into_iter().find(|c| c.as_str() == code).unwrap();
        let body = serde_json::to_vec(&ErrorBody::new(refusal, "no")).unwrap();
        answer(&mut run, &mut host, CalloutResponse { status: 409, body, ..Default::default() });
        let (status, body) = reply(&host);
        assert_eq!((status, body["error"].as_str()), (403, Some(code)));
    }
}

#[test]
fn a_body_binds_the_approval_and_is_held_until_it_is_complete() {
    let chain = chain(decision("require_approval", "hold"));
    let mut host = host("POST", &[("content-type", "application/json")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, false), Step::Continue);
    assert!(host.callouts.is_empty(), "the digest needs the body");
    host.request_body = br#"{"sql":"DELETE FROM customers"}"#.to_vec();
    let size = host.request_body.len();
    assert_eq!(run.on_request_body(&mut host, size, true), Step::Pause);
    let first = last_body(&host)["digest"].as_str().unwrap().to_string();

    let mut other = self::host("POST", &[("content-type", "application/json")]);
    let mut run = chain.start();
    run.on_request_headers(&mut other, false);
    other.request_body = br#"{"sql":"DELETE FROM orders"}"#.to_vec();
    let size = other.request_body.len();
    run.on_request_body(&mut other, size, true);
    assert_ne!(last_body(&other)["digest"].as_str().unwrap(), first, "another body, another action");
}

#[test]
fn an_mcp_tool_call_is_answered_in_json_rpc_with_its_id() {
    let chain = chain(decision("require_approval", "deferred"));
    let mut host = host("POST", &[("content-type", "application/json")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    host.request_body = br#"{"jsonrpc":"2.0","id":"call-9","method":"tools/call","params":{"name":"drop_table","arguments":{"table":"t"}}}"#.to_vec();
    let size = host.request_body.len();
    run.on_request_body(&mut host, size, true);
    assert_eq!(last_body(&host)["action"]["tool"], "drop_table");
    answer(&mut run, &mut host, shown("pending"));
    let (status, body) = reply(&host);
    assert_eq!(status, 200, "never 202 on the MCP transport");
    assert_eq!(body["id"], "call-9");
    assert_eq!(body["result"]["structuredContent"]["approval_id"], "apr_1");
    assert!(body["result"]["content"][0]["text"].as_str().unwrap().contains("x-warden-approval: apr_1"));
}

#[test]
fn configuration_errors_name_the_field() {
    let bad = [
        (json!({"service": {"cluster": "a", "key": "k"}, "receipt_public_key": "short"}), "receipt_public_key"),
        (
            json!({"service": {"cluster": "", "key": "k"}, "receipt_public_key": URL_SAFE_NO_PAD.encode([0u8; 32])}),
            "service.cluster",
        ),
        (
            json!({"service": {"cluster": "a", "key": "k"}, "receipt_public_key": URL_SAFE_NO_PAD.encode([0u8; 32]), "failure_mode": "open"}),
            "failure_mode",
        ),
        (
            json!({"service": {"cluster": "a", "key": "k"}, "receipt_public_key": URL_SAFE_NO_PAD.encode([0u8; 32]), "poll_secs": 600}),
            "poll_secs",
        ),
    ];
    for (config, field) in bad {
        let err = warden_approval::STAGE.compile(config.to_string().as_bytes()).err().expect("refused");
        assert_eq!(err.field, field);
    }
}

#[test]
fn approvers_are_shown_the_query_with_its_values_masked_while_the_digest_binds_them() {
    let chain = chain(decision("require_approval", "deferred"));
    let digest_of = |path: &str| {
        let mut host = FakeHost::with_request(&[(":method", "POST"), (":path", path), (":authority", "api.internal")]);
        host.clusters.push("approvals".into());
        let mut run = chain.start();
        run.on_request_headers(&mut host, true);
        last_body(&host)
    };
    let sent = digest_of("/export?token=s3cret-query-token&table=users");
    assert_eq!(sent["action"]["path"], "/export?table=***&token=***", "normalized (sorted), values masked");
    assert!(!sent.to_string().contains("s3cret-query-token"));
    let other = digest_of("/export?token=another&table=users");
    assert_ne!(sent["digest"], other["digest"], "the digest still binds the query's values");
}

#[test]
fn an_identity_fact_of_another_version_is_refused_without_asking_the_service() {
    let config = json!({"service": {"cluster": "approvals", "key": "wpk_secret"},
                        "receipt_public_key": URL_SAFE_NO_PAD.encode(key().verifying_key().as_bytes())});
    let chain = warden_approval::STAGE.standalone(config.to_string().as_bytes()).unwrap();
    let mut host = host("DELETE", &[]);
    host.filter_state.insert("warden.identity".into(), br#"{"v":2,"subject":"alice"}"#.to_vec());
    host.filter_state
        .insert("warden.decision".into(), decision("require_approval", "deferred").to_string().into_bytes());
    chain.start().on_request_headers(&mut host, true);
    let (status, body) = reply(&host);
    assert_eq!((status, body["error"].as_str()), (500, Some("approval_identity_unreadable")));
    assert!(host.callouts.is_empty(), "nothing was asked of the service");
}
