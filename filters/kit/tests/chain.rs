//! Behaviour of the stage chain that every filter relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may panic

use std::rc::Rc;
use std::time::Duration;
use warden_kit::facts::{self, MaskingFact, MaskingReport};
use warden_kit::testing::FakeHost;
use warden_kit::{
    BodyNeed, Callout, CalloutResponse, Chain, ChainRun, Cx, Effect, FailureMode, Flow, HeaderMap, LocalReply, Needs,
    Stage, Step,
};

/// Adds a request header and records the request id it saw.
struct Tagger;
impl Stage for Tagger {
    fn name(&self) -> &'static str {
        "tagger"
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects.push(Effect::SetHeader { map: HeaderMap::Request, name: "x-tagged".into(), value: "1".into() });
        Flow::Continue
    }
}

/// Asks an approval cluster; allows on 200, denies otherwise (fail closed).
struct Approver;
impl Stage for Approver {
    fn name(&self) -> &'static str {
        "approver"
    }
    fn on_request_headers(&self, _cx: &mut Cx<'_>) -> Flow {
        Flow::Callout(Callout {
            cluster: "approvals".into(),
            method: "POST".into(),
            path: "/approve".into(),
            authority: "approvals".into(),
            headers: vec![],
            body: vec![],
            timeout: Duration::from_secs(1),
            tag: "approve".into(),
        })
    }
    fn on_callout_response(&self, cx: &mut Cx<'_>, response: &CalloutResponse) -> Flow {
        assert_eq!(response.tag, "approve");
        if response.is_success() {
            cx.effects.push(Effect::SetHeader {
                map: HeaderMap::Request,
                name: "x-approved".into(),
                value: "yes".into(),
            });
            Flow::Continue
        } else {
            Flow::Respond(LocalReply::new(403, "not approved"))
        }
    }
}

/// Replaces the response body and records a masking decision fact.
struct Masker;
impl Stage for Masker {
    fn name(&self) -> &'static str {
        "masker"
    }
    fn needs(&self) -> Needs {
        Needs { response_body: BodyNeed::Rewrite, ..Needs::default() }
    }
    fn on_response_body(&self, cx: &mut Cx<'_>) -> Flow {
        let body = cx.request.body().unwrap_or_default();
        let masked = String::from_utf8_lossy(body).replace("alice@example.com", "[email]");
        cx.effects.push(Effect::ReplaceBody(masked.into_bytes()));
        cx.facts.write(facts::MASKING, &MaskingFact { v: 1, request: None, response: Some(MaskingReport::default()) });
        Flow::Continue
    }
}

/// Tries to change request headers from the body phase (a bug the chain must contain).
struct LateHeader;
impl Stage for LateHeader {
    fn name(&self) -> &'static str {
        "late_header"
    }
    fn needs(&self) -> Needs {
        Needs { request_body: BodyNeed::Inspect, ..Needs::default() }
    }
    fn failure_mode(&self) -> FailureMode {
        FailureMode::Open
    }
    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects.push(Effect::SetHeader { map: HeaderMap::Request, name: "x-late".into(), value: "1".into() });
        Flow::Continue
    }
}

fn chain(stages: Vec<Rc<dyn Stage>>) -> Chain {
    Chain::new(stages)
}

#[test]
fn stages_run_in_order_and_request_id_becomes_a_fact() {
    let chain = chain(vec![Rc::new(Tagger)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), ("x-request-id", "req-1")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Continue);
    assert_eq!(host.request_header("x-tagged"), Some("1"));
    assert_eq!(run.facts().request_id(), Some("req-1"));
    assert!(!host.filter_state.contains_key(facts::REQUEST_ID.name()), "kept in memory, not exported");
}

#[test]
fn callout_pauses_then_resumes_with_changes_from_the_answer() {
    let chain = chain(vec![Rc::new(Approver), Rc::new(Tagger)]);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    host.clusters.push("approvals".into());
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Pause);
    assert_eq!(host.request_header("x-tagged"), None, "later stages wait for the callout");
    run.on_callout_response(&mut host, 1, CalloutResponse { status: 200, ..CalloutResponse::default() });
    assert_eq!(host.request_header("x-approved"), Some("yes"));
    assert_eq!(host.request_header("x-tagged"), Some("1"));
    assert_eq!(host.resumed, vec![false]);
}

#[test]
fn unknown_cluster_is_delivered_as_a_503_so_the_stage_fails_closed() {
    let chain = chain(vec![Rc::new(Approver)]);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, true), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(403));
    assert!(host.resumed.is_empty());
}

#[test]
fn answer_to_an_unknown_token_is_ignored() {
    let chain = chain(vec![Rc::new(Approver)]);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    host.clusters.push("approvals".into());
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    run.on_callout_response(&mut host, 99, CalloutResponse { status: 200, ..CalloutResponse::default() });
    assert!(host.resumed.is_empty());
}

#[test]
fn response_body_is_buffered_rewritten_and_content_length_removed() {
    let chain = chain(vec![Rc::new(Masker)]);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    host.response_headers = vec![(":status".into(), "200".into()), ("content-length".into(), "26".into())];
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    assert_eq!(run.on_response_headers(&mut host, false), Step::Continue);
    assert!(host.response_headers.iter().all(|(k, _)| k != "content-length"));
    host.response_body = b"{\"to\":\"alice@example.com\"}".to_vec();
    assert_eq!(run.on_response_body(&mut host, 10, false), Step::Pause, "buffer until the end");
    assert_eq!(run.on_response_body(&mut host, 26, true), Step::Continue);
    assert_eq!(host.response_body, b"{\"to\":\"[email]\"}");
    assert!(host.filter_state.contains_key(facts::MASKING.name()));
}

#[test]
fn oversized_response_body_fails_closed_with_502() {
    let chain = chain(vec![Rc::new(Masker)]).with_max_body_bytes(8);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    run.on_response_headers(&mut host, false);
    assert_eq!(run.on_response_body(&mut host, 9, false), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(502));
    assert!(host.logs.iter().any(|(_, m)| m.contains("response body: body larger than 8 bytes: denied")));
}

#[test]
fn oversized_request_body_fails_closed_with_413() {
    let chain = chain(vec![Rc::new(PostReader)]).with_max_body_bytes(8);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "POST")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    assert_eq!(run.on_request_body(&mut host, 9, false), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| (r.status, r.details.as_str())), Some((413, "warden_body_too_large")));
}

#[test]
fn oversized_body_passes_uninspected_when_fail_open() {
    let chain = chain(vec![Rc::new(LateHeader)]).with_max_body_bytes(4);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    assert_eq!(run.on_request_body(&mut host, 5, false), Step::Continue);
    assert_eq!(run.on_request_body(&mut host, 10, true), Step::Continue);
    assert!(host.local_reply.is_none());
}

#[test]
fn header_change_from_a_body_phase_fails_closed_and_never_reaches_the_host() {
    let chain = chain(vec![Rc::new(LateHeader)]);
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    host.request_body = b"{}".to_vec();
    assert_eq!(run.on_request_body(&mut host, 2, true), Step::Pause, "the request does not go on");
    assert_eq!(host.request_header("x-late"), None, "never sent to the host (the SDK would panic)");
    let reply = host.local_reply.as_ref().expect("refused");
    assert_eq!((reply.status, reply.details.as_str()), (500, "warden_effect_not_applied"));
    assert!(host.logs.iter().any(|(_, m)| m.contains("not possible in the request body phase")));
}

/// Strips a spoofed identity header, but the proxy refuses header changes (as Envoy does once
/// a map is gone): the request must not go on with the spoofed header.
#[test]
fn a_strip_the_host_refuses_fails_closed() {
    struct Stripper;
    impl Stage for Stripper {
        fn name(&self) -> &'static str {
            "stripper"
        }
        fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
            cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: "x-warden-subject".into() });
            Flow::Continue
        }
    }
    let chain = chain(vec![Rc::new(Stripper)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), ("x-warden-subject", "admin")]);
    host.refuse_header_changes = true;
    assert_eq!(chain.start().on_request_headers(&mut host, true), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(500));
}

/// Stripping headers the request does not carry asks nothing of the host; one it carries is
/// removed; and a header map that could not be read is never trusted to be complete.
#[test]
fn stripping_an_absent_header_needs_no_hostcall() {
    struct Stripper;
    impl Stage for Stripper {
        fn name(&self) -> &'static str {
            "stripper"
        }
        fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
            for name in ["x-warden-subject", "x-warden-groups"] {
                cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: name.into() });
            }
            Flow::Continue
        }
    }
    let chain = chain(vec![Rc::new(Stripper)]);
    let mut clean = FakeHost::with_request(&[(":path", "/")]);
    assert_eq!(chain.start().on_request_headers(&mut clean, true), Step::Continue);
    assert_eq!(clean.header_calls, 0);
    let mut spoofed = FakeHost::with_request(&[(":path", "/"), ("X-Warden-Groups", "admins")]);
    assert_eq!(chain.start().on_request_headers(&mut spoofed, true), Step::Continue);
    assert_eq!(spoofed.header_calls, 1);
    assert!(spoofed.request_headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("x-warden-groups")));
    let mut unread = FakeHost::with_request(&[]);
    assert_eq!(chain.start().on_request_headers(&mut unread, true), Step::Continue);
    assert_eq!(unread.header_calls, 2, "an empty map may be a failed read: strip anyway");
}

/// Writes a `require_approval` decision and lets the request go on anyway (a stage bug, or a
/// configuration with no approval stage): the chain itself must refuse it.
struct WavesApprovalThrough;
impl Stage for WavesApprovalThrough {
    fn name(&self) -> &'static str {
        "waves_through"
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let decision = facts::DecisionFact {
            v: 1,
            effect: facts::Verdict::RequireApproval,
            rules: vec!["deletes-need-approval".into()],
            reasons: vec![],
            policy: "sha256:0".into(),
            mask: vec![],
            approval: None,
            dry_run: vec![],
            logged: vec![],
            action: None,
        };
        cx.facts.write(facts::DECISION, &decision);
        Flow::Continue
    }
}

/// Enforces approvals: records `approved` only when the request carries `x-approved: yes`.
struct ApprovalStage;
impl Stage for ApprovalStage {
    fn name(&self) -> &'static str {
        "approval"
    }
    fn needs(&self) -> Needs {
        Needs { enforces_approval: true, ..Needs::default() }
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        if cx.request.header("x-approved") == Some("yes") {
            let fact = facts::ApprovalFact {
                v: 1,
                status: facts::ApprovalStatus::Approved,
                approval_id: "apr-1".into(),
                approver: Some("bob".into()),
                decided_at: None,
                mode: None,
                digest: String::new(),
                code: None,
                forced: false,
                receipt: None,
            };
            cx.facts.write(facts::APPROVAL, &fact);
        }
        Flow::Continue
    }
}

#[test]
fn a_request_that_needs_approval_never_passes_a_chain_without_an_approval_stage() {
    let chain = chain(vec![Rc::new(WavesApprovalThrough)]);
    for end_of_stream in [true, false] {
        let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "DELETE")]);
        assert_eq!(chain.start().on_request_headers(&mut host, end_of_stream), Step::Pause);
        let reply = host.local_reply.as_ref().expect("refused");
        assert_eq!((reply.status, reply.details.as_str()), (403, "warden_approval_not_enforced"));
        assert!(reply.body.contains("approval_unavailable"));
    }
}

#[test]
fn a_request_that_needs_approval_passes_only_once_approved() {
    let chain = chain(vec![Rc::new(WavesApprovalThrough), Rc::new(ApprovalStage)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "DELETE")]);
    assert_eq!(chain.start().on_request_headers(&mut host, true), Step::Pause, "not approved");
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(403));

    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "DELETE"), ("x-approved", "yes")]);
    assert_eq!(chain.start().on_request_headers(&mut host, true), Step::Continue);
    assert!(host.local_reply.is_none());
}

#[test]
fn with_an_approval_stage_a_request_with_a_body_is_judged_when_complete() {
    // The approval stage may bind the approval to the body, so the guard waits for its end.
    let chain = chain(vec![Rc::new(WavesApprovalThrough), Rc::new(ApprovalStage)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "POST")]);
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, false), Step::Continue);
    assert!(host.local_reply.is_none());
    assert_eq!(run.on_request_body(&mut host, 2, true), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(403));
}

#[test]
fn stages_see_whether_an_approval_stage_follows() {
    struct Observer(std::cell::Cell<Option<bool>>);
    impl Stage for Observer {
        fn name(&self) -> &'static str {
            "observer"
        }
        fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
            self.0.set(Some(cx.approval_follows));
            Flow::Continue
        }
    }
    let observer = Rc::new(Observer(Default::default()));
    let chain = Chain::new(vec![observer.clone(), Rc::new(ApprovalStage)]);
    chain.start().on_request_headers(&mut FakeHost::with_request(&[(":path", "/")]), true);
    assert_eq!(observer.0.get(), Some(true));
    let observer = Rc::new(Observer(Default::default()));
    let chain = Chain::new(vec![Rc::new(ApprovalStage), observer.clone()]);
    chain.start().on_request_headers(&mut FakeHost::with_request(&[(":path", "/")]), true);
    assert_eq!(observer.0.get(), Some(false), "only a later stage counts");
}

/// Counts requests in its VM state.
struct Counter;
impl Stage for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn vm_state(&self) -> warden_kit::VmState {
        warden_kit::VmState::new(0u32)
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        let Some(count) = cx.vm.get_mut::<u32>() else { return Flow::Respond(LocalReply::new(500, "no state")) };
        *count += 1;
        cx.effects.push(Effect::SetHeader {
            map: HeaderMap::Request,
            name: "x-count".into(),
            value: count.to_string(),
        });
        Flow::Continue
    }
}

#[test]
fn vm_state_is_shared_by_the_requests_of_one_chain_and_not_by_another() {
    let counter = Rc::new(Counter);
    let vm_one = Chain::new(vec![counter.clone()]);
    let vm_two = Chain::new(vec![counter]);
    let count = |chain: &Chain| {
        let mut host = FakeHost::with_request(&[(":path", "/")]);
        chain.start().on_request_headers(&mut host, true);
        host.request_header("x-count").map(str::to_string)
    };
    assert_eq!(count(&vm_one).as_deref(), Some("1"));
    assert_eq!(count(&vm_one).as_deref(), Some("2"));
    assert_eq!(count(&vm_two).as_deref(), Some("1"), "another VM's chain has its own state");
}

#[test]
fn facts_needed_by_a_stage_are_imported_from_filter_state() {
    struct Reader;
    impl Stage for Reader {
        fn name(&self) -> &'static str {
            "reader"
        }
        fn needs(&self) -> Needs {
            const READS: [&str; 1] = [facts::IDENTITY.name()];
            Needs { reads_facts: &READS, ..Needs::default() }
        }
        fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
            match cx.facts.read(facts::IDENTITY).map(|identity| identity.subject) {
                Some(subject) if subject == "alice" => Flow::Continue,
                _ => Flow::Respond(LocalReply::new(401, "who are you")),
            }
        }
    }
    let chain = Chain::new(vec![Rc::new(Reader)]).importing_facts();
    let mut host = FakeHost::with_request(&[(":path", "/")]);
    let alice = br#"{"v":1,"subject":"alice","issuer":"https://idp","kind":"human","method":"jwt"}"#;
    host.filter_state.insert(facts::IDENTITY.name().into(), alice.to_vec());
    assert_eq!(chain.start().on_request_headers(&mut host, true), Step::Continue);
    assert!(host.local_reply.is_none());
}

/// Reads bodies only for POST requests; declines the body of anything else.
struct PostReader;
impl Stage for PostReader {
    fn name(&self) -> &'static str {
        "post_reader"
    }
    fn needs(&self) -> Needs {
        Needs { request_body: BodyNeed::Inspect, ..Needs::default() }
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        if cx.request.header(":method") != Some("POST") {
            cx.effects.push(Effect::SkipRequestBody);
        }
        Flow::Continue
    }
    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        if cx.request.body() == Some(&b"deny me"[..]) {
            return Flow::Respond(LocalReply::new(403, "denied"));
        }
        Flow::Continue
    }
}

#[test]
fn a_body_every_stage_declined_streams_without_buffering() {
    let chain = chain(vec![Rc::new(PostReader)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "PUT")]);
    host.request_body = b"deny me".to_vec();
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, false), Step::Continue);
    assert_eq!(run.on_request_body(&mut host, 7, false), Step::Continue, "not held back");
    assert_eq!(run.on_request_body(&mut host, 7, true), Step::Continue);
    assert!(host.local_reply.is_none(), "the declined body was never inspected");
}

#[test]
fn a_body_a_stage_still_needs_is_buffered_and_inspected() {
    let chain = chain(vec![Rc::new(PostReader)]);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "POST")]);
    host.request_body = b"deny me".to_vec();
    let mut run = chain.start();
    assert_eq!(run.on_request_headers(&mut host, false), Step::Continue);
    assert_eq!(run.on_request_body(&mut host, 7, false), Step::Pause, "held until the end of the body");
    assert_eq!(run.on_request_body(&mut host, 7, true), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(403));
}

/// Reads request bodies of at most 16 bytes.
struct SmallReader;
impl Stage for SmallReader {
    fn name(&self) -> &'static str {
        "small_reader"
    }
    fn needs(&self) -> Needs {
        Needs { request_body: BodyNeed::Inspect, max_body_bytes: Some(16), ..Needs::default() }
    }
}

#[test]
fn a_stage_s_own_body_limit_holds_even_under_a_larger_chain_limit() {
    let chain = chain(vec![Rc::new(SmallReader)]).with_max_body_bytes(1024);
    let mut host = FakeHost::with_request(&[(":path", "/"), (":method", "POST")]);
    let mut run = chain.start();
    run.on_request_headers(&mut host, false);
    assert_eq!(run.on_request_body(&mut host, 17, false), Step::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(413));
}

/// Rewrites response bodies only of requests to `/lists`; declines the others'.
struct ListFilter;
impl Stage for ListFilter {
    fn name(&self) -> &'static str {
        "list_filter"
    }
    fn needs(&self) -> Needs {
        Needs { response_body: BodyNeed::Rewrite, ..Needs::default() }
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        if cx.request.header(":path") != Some("/lists") {
            cx.effects.push(Effect::SkipResponseBody);
        }
        Flow::Continue
    }
    fn on_response_body(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects.push(Effect::ReplaceBody(b"[]".to_vec()));
        Flow::Continue
    }
}

#[test]
fn a_response_body_every_stage_declined_streams_with_its_content_length() {
    let chain = chain(vec![Rc::new(ListFilter)]);
    let mut host = FakeHost::with_request(&[(":path", "/other")]);
    host.response_headers = vec![(":status".into(), "200".into()), ("content-length".into(), "7".into())];
    host.response_body = b"[1,2,3]".to_vec();
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    assert_eq!(run.on_response_headers(&mut host, false), Step::Continue);
    assert!(host.response_headers.iter().any(|(k, _)| k == "content-length"), "kept: the body is not changed");
    assert_eq!(run.on_response_body(&mut host, 3, false), Step::Continue, "not held back");
    assert_eq!(run.on_response_body(&mut host, 7, true), Step::Continue);
    assert_eq!(host.response_body, b"[1,2,3]");
}

#[test]
fn a_response_body_a_stage_still_needs_is_buffered_and_rewritten() {
    let chain = chain(vec![Rc::new(ListFilter)]);
    let mut host = FakeHost::with_request(&[(":path", "/lists")]);
    host.response_headers = vec![(":status".into(), "200".into()), ("content-length".into(), "7".into())];
    host.response_body = b"[1,2,3]".to_vec();
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    assert_eq!(run.on_response_headers(&mut host, false), Step::Continue);
    assert!(host.response_headers.iter().all(|(k, _)| k != "content-length"));
    assert_eq!(run.on_response_body(&mut host, 3, false), Step::Pause);
    assert_eq!(run.on_response_body(&mut host, 7, true), Step::Continue);
    assert_eq!(host.response_body, b"[]");
}

/// Hands on complete lines only, carrying the unfinished one in its scratch.
struct LineJoiner;
impl Stage for LineJoiner {
    fn name(&self) -> &'static str {
        "line_joiner"
    }
    fn needs(&self) -> Needs {
        Needs { response_body: BodyNeed::Rewrite, ..Needs::default() }
    }
    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects.push(Effect::StreamResponseBody);
        Flow::Continue
    }
    fn on_response_chunk(&self, cx: &mut Cx<'_>, end: bool) -> Flow {
        let mut carry: Vec<u8> = cx.scratch.take().unwrap_or_default();
        carry.extend_from_slice(cx.request.body().unwrap_or_default());
        let complete = if end { carry.len() } else { carry.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        let rest = carry.split_off(complete);
        cx.effects.push(Effect::ReplaceBody(carry.to_ascii_uppercase()));
        cx.scratch.set(rest);
        Flow::Continue
    }
}

/// Reads the whole response body.
struct WholeReader;
impl Stage for WholeReader {
    fn name(&self) -> &'static str {
        "whole_reader"
    }
    fn needs(&self) -> Needs {
        Needs { response_body: BodyNeed::Inspect, ..Needs::default() }
    }
}

/// Feeds `chunks` as separate response body callbacks (the proxy holds only the current
/// chunk when the previous one was not paused) and returns what the client got.
fn stream_response(run: &mut ChainRun, host: &mut FakeHost, chunks: &[&[u8]]) -> (Vec<u8>, Vec<Step>) {
    let (mut out, mut steps) = (Vec::new(), Vec::new());
    for (n, chunk) in chunks.iter().enumerate() {
        host.response_body = chunk.to_vec();
        let step = run.on_response_body(host, chunk.len(), n + 1 == chunks.len());
        if step == Step::Continue {
            out.extend_from_slice(&host.response_body);
        }
        steps.push(step);
    }
    (out, steps)
}

#[test]
fn a_body_every_stage_takes_in_chunks_streams_with_carry_over_in_scratch() {
    let chain = chain(vec![Rc::new(LineJoiner)]);
    for _ in 0..2 {
        // Twice: the second request starts with empty scratch.
        let mut host = FakeHost::with_request(&[(":path", "/events")]);
        host.response_headers = vec![(":status".into(), "200".into()), ("content-length".into(), "9".into())];
        let mut run = chain.start();
        run.on_request_headers(&mut host, true);
        run.on_response_headers(&mut host, false);
        assert!(host.response_headers.iter().all(|(k, _)| k != "content-length"), "the body changes");
        let (out, steps) = stream_response(&mut run, &mut host, &[b"ab\ncd", b"e\nf", b"g", b""]);
        assert_eq!(steps, vec![Step::Continue; 4], "no chunk is held back");
        assert_eq!(out, b"AB\nCDE\nFG");
    }
}

#[test]
fn a_body_another_stage_needs_whole_is_buffered_and_given_as_one_last_chunk() {
    let chain = chain(vec![Rc::new(LineJoiner), Rc::new(WholeReader)]);
    let mut host = FakeHost::with_request(&[(":path", "/events")]);
    host.response_headers = vec![(":status".into(), "200".into())];
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    run.on_response_headers(&mut host, false);
    assert_eq!(run.on_response_body(&mut host, 5, false), Step::Pause, "buffered for the whole reader");
    host.response_body = b"ab\ncd\nef".to_vec();
    assert_eq!(run.on_response_body(&mut host, 8, true), Step::Continue);
    assert_eq!(host.response_body, b"AB\nCD\nEF", "the chunk stage saw it all, with end");
}

/// Takes chunks, and (wrongly) calls out from one.
struct ChunkCaller;
impl Stage for ChunkCaller {
    fn name(&self) -> &'static str {
        "chunk_caller"
    }
    fn needs(&self) -> Needs {
        Needs { response_body: BodyNeed::Rewrite, ..Needs::default() }
    }
    fn on_response_headers(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects.push(Effect::StreamResponseBody);
        Flow::Continue
    }
    fn on_response_chunk(&self, _cx: &mut Cx<'_>, _end: bool) -> Flow {
        Flow::Callout(Callout {
            cluster: "approvals".into(),
            method: "GET".into(),
            path: "/".into(),
            authority: "approvals".into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(1),
            tag: String::new(),
        })
    }
}

#[test]
fn a_callout_from_a_chunk_fails_closed_instead_of_holding_the_stream() {
    let chain = Chain::new(vec![Rc::new(ChunkCaller)]);
    let mut host = FakeHost::with_request(&[(":path", "/events")]);
    host.clusters = vec!["approvals".into()];
    let mut run = chain.start();
    run.on_request_headers(&mut host, true);
    run.on_response_headers(&mut host, false);
    host.response_body = b"x".to_vec();
    assert_eq!(run.on_response_body(&mut host, 1, false), Step::Pause);
    assert!(host.callouts.is_empty(), "no callout made");
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(500));
}
