//! Runs stages in order over one request, pausing for callouts and body buffering, and
//! applying their effects through a [`Host`].

use crate::effect::{CalloutResponse, Effect, HeaderMap, LocalReply, LogLevel};
use crate::error::KitError;
use crate::facts::{self, Facts};
use crate::failure::FailureMode;
use crate::host::Host;
use crate::limits::MAX_BODY_BYTES;
use crate::scratch::Scratch;
use crate::stage::{BodyNeed, Cx, Flow, Needs, Stage};
use crate::view::RequestView;
use crate::vm_state::VmState;
use std::cell::RefCell;
use std::rc::Rc;

/// What the proxy callback should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Let the stream go on.
    Continue,
    /// Hold the stream (buffering, waiting for a callout, or answered locally).
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    /// End of the stream (`on_log`): nothing can be changed or refused any more.
    Log,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::RequestHeaders => "request headers",
            Phase::RequestBody => "request body",
            Phase::ResponseHeaders => "response headers",
            Phase::ResponseBody => "response body",
            Phase::Log => "log",
        }
    }

    fn is_response(self) -> bool {
        matches!(self, Phase::ResponseHeaders | Phase::ResponseBody)
    }
}

struct Inner {
    stages: Vec<Rc<dyn Stage>>,
    /// Each stage's `needs()`, asked once at configure time.
    needs: Vec<crate::stage::Needs>,
    /// Per stage: whether a later stage enforces approvals.
    approval_follows: Vec<bool>,
    /// Whether any stage enforces approvals.
    enforces_approval: bool,
    request_body: BodyNeed,
    response_body: BodyNeed,
    body_failure: FailureMode,
    max_body_bytes: usize,
    reads_facts: Vec<&'static str>,
    response_headers: bool,
    log: bool,
    /// Each stage's mutable state for this VM (the chain is built once per VM).
    vm: RefCell<Vec<VmState>>,
    /// Random bytes of this VM ([`Chain::with_vm_seed`]).
    vm_seed: [u8; 16],
}

/// An ordered list of stages with what they need, compiled once at configure time.
/// Cheap to clone; one [`ChainRun`] per request.
#[derive(Clone)]
pub struct Chain {
    inner: Rc<Inner>,
}

/// The smallest body limit the stages set for themselves.
fn needs_limit(needs: &[Needs]) -> Option<usize> {
    needs.iter().filter_map(|n| n.max_body_bytes).min()
}

fn strongest(a: BodyNeed, b: BodyNeed) -> BodyNeed {
    match (a, b) {
        (BodyNeed::Rewrite, _) | (_, BodyNeed::Rewrite) => BodyNeed::Rewrite,
        (BodyNeed::Inspect, _) | (_, BodyNeed::Inspect) => BodyNeed::Inspect,
        _ => BodyNeed::None,
    }
}

impl Chain {
    /// A chain of `stages` in order, with each stage's [`VmState`] created; body limit: the
    /// smallest of the stages' own limits, else [`MAX_BODY_BYTES`]; facts not imported.
    pub fn new(stages: Vec<Rc<dyn Stage>>) -> Chain {
        let mut request_body = BodyNeed::None;
        let mut response_body = BodyNeed::None;
        let mut body_failure = FailureMode::Open;
        for stage in &stages {
            let needs = stage.needs();
            request_body = strongest(request_body, needs.request_body);
            response_body = strongest(response_body, needs.response_body);
            let needs_body = needs.request_body != BodyNeed::None || needs.response_body != BodyNeed::None;
            if needs_body && stage.failure_mode() == FailureMode::Closed {
                body_failure = FailureMode::Closed;
            }
        }
        let response_headers = stages.iter().any(|s| s.needs().response_headers);
        let log = stages.iter().any(|s| s.needs().log);
        let needs: Vec<Needs> = stages.iter().map(|s| s.needs()).collect();
        let max_body_bytes = needs_limit(&needs).unwrap_or(MAX_BODY_BYTES);
        let approval_follows = (0..needs.len()).map(|i| needs[i + 1..].iter().any(|n| n.enforces_approval)).collect();
        let stages_enforce = needs.iter().any(|n| n.enforces_approval);
        let vm = RefCell::new(stages.iter().map(|s| s.vm_state()).collect());
        let inner = Inner {
            stages,
            needs,
            approval_follows,
            enforces_approval: stages_enforce,
            request_body,
            response_body,
            body_failure,
            max_body_bytes,
            reads_facts: Vec::new(),
            response_headers,
            log,
            vm,
            vm_seed: [0; 16],
        };
        Chain { inner: Rc::new(inner) }
    }

    /// Caps the largest body the chain buffers (a stage's own smaller limit still applies); a
    /// larger body fails per the strictest `failure_mode` of the stages that need bodies
    /// (closed: 413).
    pub fn with_max_body_bytes(self, bytes: usize) -> Chain {
        self.rebuild(|inner| inner.max_body_bytes = needs_limit(&inner.needs).map_or(bytes, |own| own.min(bytes)))
    }

    /// Gives the chain this VM's random bytes, drawn once by the adapter ([`Cx::vm_seed`]).
    pub fn with_vm_seed(self, seed: [u8; 16]) -> Chain {
        self.rebuild(|inner| inner.vm_seed = seed)
    }

    /// Reads the facts its stages need from filter state at request start (for a stage that
    /// runs as a separate wasm filter after other Warden filters).
    pub fn importing_facts(self) -> Chain {
        let keys: Vec<&'static str> =
            self.inner.stages.iter().flat_map(|s| s.needs().reads_facts.iter().copied()).collect();
        self.rebuild(|inner| inner.reads_facts = keys)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Chain {
        let old = &self.inner;
        let mut inner = Inner {
            stages: old.stages.clone(),
            needs: old.needs.clone(),
            approval_follows: old.approval_follows.clone(),
            enforces_approval: old.enforces_approval,
            request_body: old.request_body,
            response_body: old.response_body,
            body_failure: old.body_failure,
            max_body_bytes: old.max_body_bytes,
            reads_facts: old.reads_facts.clone(),
            response_headers: old.response_headers,
            log: old.log,
            vm: RefCell::new(old.stages.iter().map(|s| s.vm_state()).collect()),
            vm_seed: old.vm_seed,
        };
        change(&mut inner);
        Chain { inner: Rc::new(inner) }
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Rc<dyn Stage>] {
        &self.inner.stages
    }

    /// Names of the stages, in order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.inner.stages.iter().map(|s| s.name()).collect()
    }

    /// Runs `work` with stage `index`'s VM state; `None` if there is no such stage or the
    /// state is in use (a callback cannot re-enter the chain, so that never happens).
    pub(crate) fn with_vm_state<R>(&self, index: usize, work: impl FnOnce(&mut VmState) -> R) -> Option<R> {
        let mut states = self.inner.vm.try_borrow_mut().ok()?;
        states.get_mut(index).map(work)
    }

    /// State for a new request.
    pub fn start(&self) -> ChainRun {
        ChainRun {
            inner: self.inner.clone(),
            facts: Facts::default(),
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            body: None,
            waiting: None,
            replied: false,
            skip_request_body: false,
            skip_response_body: false,
            declined_request_body: 0,
            declined_response_body: 0,
            streamed_request_body: 0,
            streamed_response_body: 0,
            chunk_end: false,
            chunks_seen: false,
            headers_only: false,
            scratch: self.inner.stages.iter().map(|_| Scratch::default()).collect(),
            started: None,
        }
    }
}

struct Waiting {
    stage: usize,
    token: u32,
    phase: Phase,
    tag: String,
}

/// One request's pass through a [`Chain`].
pub struct ChainRun {
    inner: Rc<Inner>,
    facts: Facts,
    request_headers: Vec<(String, String)>,
    response_headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    waiting: Option<Waiting>,
    replied: bool,
    skip_request_body: bool,
    skip_response_body: bool,
    /// Stages (bit per index) that said they do not need this request's body.
    declined_request_body: u64,
    /// Stages (bit per index) that said they do not need this request's response body.
    declined_response_body: u64,
    /// Stages (bit per index) that take this request's body in chunks.
    streamed_request_body: u64,
    /// Stages (bit per index) that take this request's response body in chunks.
    streamed_response_body: u64,
    /// Whether the chunk being handled is the body's last.
    chunk_end: bool,
    /// Whether a chunk of the current streamed body was handled already.
    chunks_seen: bool,
    /// Whether the request ended with its headers (no body).
    headers_only: bool,
    /// Each stage's working state for this request.
    scratch: Vec<Scratch>,
    /// When the request headers reached the chain.
    started: Option<std::time::SystemTime>,
}

/// The view stages read: headers cached from their phase, properties through the host.
struct PhaseView<'a> {
    request_headers: &'a [(String, String)],
    response_headers: &'a [(String, String)],
    body: Option<&'a [u8]>,
    host: RefCell<&'a mut dyn Host>,
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl RequestView for PhaseView<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        find(self.request_headers, name)
    }
    fn headers(&self) -> &[(String, String)] {
        self.request_headers
    }
    fn response_header(&self, name: &str) -> Option<&str> {
        find(self.response_headers, name)
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.host.borrow_mut().property(path)
    }
    fn body(&self) -> Option<&[u8]> {
        self.body
    }
}

/// A string field of a stored fact, read in place.
fn fact_field<'a>(facts: &'a Facts, key: &str, name: &str) -> Option<&'a str> {
    facts.raw(key)?.get(name)?.as_str()
}

/// `warden.decision`'s `effect` when approval is needed ([`facts::Verdict::RequireApproval`]).
const REQUIRE_APPROVAL: &str = "require_approval";
/// `warden.approval`'s `status` once approved ([`facts::ApprovalStatus::Approved`]).
const APPROVED: &str = "approved";

enum Handled {
    Next,
    Stop,
}

impl ChainRun {
    /// The request's facts so far.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Whether a stage answered the request locally.
    pub fn replied(&self) -> bool {
        self.replied
    }

    /// Request headers phase: runs every stage's `on_request_headers`.
    pub fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Step {
        self.request_headers = host.request_headers();
        if let Some(id) = find(&self.request_headers, "x-request-id") {
            // In memory only: every filter reads `x-request-id` itself, and exporting it would
            // cost a hostcall per request per filter (access logs use `%REQ(x-request-id)%`).
            let id = serde_json::Value::String(id.to_string());
            self.facts.import(facts::REQUEST_ID.name(), id);
        }
        self.import_facts(host);
        self.headers_only = end_of_stream;
        let step = self.run_phase(host, Phase::RequestHeaders, 0);
        self.unset_length_if_rewritten(host, Phase::RequestBody, end_of_stream);
        step
    }

    /// After a headers phase's stages ran: removes `content-length` when a stage that rewrites
    /// the body still wants it (those that declined the body leave its length alone).
    fn unset_length_if_rewritten(&mut self, host: &mut dyn Host, body: Phase, end_of_stream: bool) {
        let rewrites = (0..self.inner.stages.len()).any(|i| {
            let need = match body {
                Phase::RequestBody => self.inner.needs[i].request_body,
                _ => self.inner.needs[i].response_body,
            };
            need == BodyNeed::Rewrite && self.wants(i, body)
        });
        if !rewrites || end_of_stream || self.replied {
            return;
        }
        let map = if body.is_response() { HeaderMap::Response } else { HeaderMap::Request };
        if let Err(err) = host.set_header(map, "content-length", None) {
            host.log(
                LogLevel::Error,
                &format!("warden: cannot remove content-length before the {}: {err}", body.name()),
            );
        }
    }

    /// Reads the facts the stages need from filter state (those not known yet: a separate
    /// filter earlier in the chain may write one only in its body phase).
    fn import_facts(&mut self, host: &mut dyn Host) {
        self.import_facts_from(host, false);
    }

    /// Reads the facts this chain's stages need from filter state; `refresh`: also those
    /// already read (earlier filters may have changed them since).
    fn import_facts_from(&mut self, host: &mut dyn Host, refresh: bool) {
        let inner = self.inner.clone();
        for &key in &inner.reads_facts {
            if !refresh && self.facts.raw(key).is_some() {
                continue;
            }
            if let Some(bytes) = host.filter_state(key) {
                let value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                self.facts.import(key, value);
            }
        }
    }

    /// Request body callback: buffers until end of stream, then runs `on_request_body`.
    pub fn on_request_body(&mut self, host: &mut dyn Host, body_size: usize, end_of_stream: bool) -> Step {
        if self.replied {
            return Step::Continue;
        }
        let unread = self.inner.request_body == BodyNeed::None
            || self.skip_request_body
            // every stage that reads bodies declined this one
            || !(0..self.inner.stages.len()).any(|i| self.wants(i, Phase::RequestBody));
        if unread {
            if end_of_stream && self.refuse_unapproved(host) {
                return Step::Pause;
            }
            return Step::Continue;
        }
        self.body_phase(host, Phase::RequestBody, body_size, end_of_stream)
    }

    /// The kit's own guard: a request that `warden.decision` says needs a human's approval
    /// never goes on without `warden.approval` saying `approved`, whatever the stages did
    /// (403 `approval_unavailable`). Checked once the request is complete, or right after the
    /// headers when no stage of the chain enforces approvals. Returns whether it refused.
    fn refuse_unapproved(&mut self, host: &mut dyn Host) -> bool {
        // Two map lookups per request: the fields are read straight from the stored values
        // (deserializing even a view of the decision costs more than the rest of a decision).
        if fact_field(&self.facts, facts::DECISION.name(), "effect") != Some(REQUIRE_APPROVAL)
            || fact_field(&self.facts, facts::APPROVAL.name(), "status") == Some(APPROVED)
        {
            return false;
        }
        host.log(
            LogLevel::Error,
            "warden: a request that needs approval reached the end of the chain unapproved: refused",
        );
        let request_id = self.facts.request_id().unwrap_or_default();
        let body = serde_json::json!({"error": "approval_unavailable",
            "message": "this request needs a human's approval, and no approval stage enforced it",
            "request_id": request_id});
        let reply = LocalReply::new(403, body.to_string())
            .with_header("content-type", "application/json")
            .with_details("warden_approval_not_enforced");
        host.send_local_reply(&reply);
        self.replied = true;
        true
    }

    /// Response headers phase. A stage may still decline the response body here; if some
    /// stage that rewrites it still wants it, `content-length` is removed.
    pub fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Step {
        let reads_body = (0..self.inner.stages.len()).any(|i| self.wants(i, Phase::ResponseBody));
        if self.replied || (!self.inner.response_headers && !reads_body) {
            return Step::Continue;
        }
        self.response_headers = host.response_headers();
        if !self.inner.reads_facts.is_empty() {
            self.import_facts(host);
        }
        let step = self.run_phase(host, Phase::ResponseHeaders, 0);
        self.unset_length_if_rewritten(host, Phase::ResponseBody, end_of_stream);
        step
    }

    /// Response body callback.
    pub fn on_response_body(&mut self, host: &mut dyn Host, body_size: usize, end_of_stream: bool) -> Step {
        if self.replied || self.inner.response_body == BodyNeed::None || self.skip_response_body {
            return Step::Continue;
        }
        if !(0..self.inner.stages.len()).any(|i| self.wants(i, Phase::ResponseBody)) {
            return Step::Continue; // every stage that reads response bodies declined this one
        }
        self.body_phase(host, Phase::ResponseBody, body_size, end_of_stream)
    }

    /// A callout answered (`token` from [`Host::dispatch`]). Resumes the stream when the
    /// remaining stages of the phase let it go on.
    pub fn on_callout_response(&mut self, host: &mut dyn Host, token: u32, mut response: CalloutResponse) {
        let Some(waiting) = self.waiting.take_if(|w| w.token == token) else { return };
        response.tag = waiting.tag.clone();
        let now = host.now();
        let flow = self.call_stage(host, waiting.stage, waiting.phase, Some(&response), now);
        if let Handled::Stop = self.handle(host, waiting.stage, waiting.phase, flow) {
            return;
        }
        if self.run_phase(host, waiting.phase, waiting.stage + 1) == Step::Continue {
            host.resume(waiting.phase.is_response());
        }
    }

    /// End of stream: every stage's `on_log` (facts are final).
    pub fn on_log(&mut self, host: &mut dyn Host) {
        if !self.inner.log {
            return self.export_facts(host);
        }
        let now = host.now();
        self.body = None;
        if !self.inner.reads_facts.is_empty() {
            // A separate filter's last look: what the filters before it finally decided.
            self.import_facts_from(host, true);
        }
        // Only the stages that said they log (`Needs::log`): a call costs even when it does
        // nothing.
        for i in 0..self.inner.stages.len() {
            if self.inner.needs[i].log {
                self.call_stage(host, i, Phase::Log, None, now);
            }
        }
    }

    fn body_phase(&mut self, host: &mut dyn Host, phase: Phase, size: usize, end_of_stream: bool) -> Step {
        if self.waiting.is_some() {
            return Step::Pause;
        }
        // A streamed body is not buffered: its stages bound what they carry over themselves.
        let streaming = self.streams(phase);
        if size > self.inner.max_body_bytes && !streaming {
            let too_large = KitError::BodyTooLarge { limit: self.inner.max_body_bytes };
            match self.inner.body_failure {
                FailureMode::Closed => {
                    host.log(LogLevel::Warn, &format!("warden: {}: {too_large}: denied", phase.name()));
                    let status = if phase.is_response() { 502 } else { 413 };
                    let reply =
                        LocalReply::new(status, "body too large for inspection").with_details("warden_body_too_large");
                    host.send_local_reply(&reply);
                    self.replied = true;
                    return Step::Pause;
                }
                FailureMode::Open => {
                    host.log(LogLevel::Warn, &format!("warden: {}: {too_large}: passed uninspected", phase.name()));
                    if phase.is_response() {
                        self.skip_response_body = true;
                    } else {
                        self.skip_request_body = true;
                    }
                    return Step::Continue;
                }
            }
        }
        if !end_of_stream && !streaming {
            return Step::Pause;
        }
        if !self.inner.reads_facts.is_empty() && (end_of_stream || !self.chunks_seen) {
            self.import_facts(host);
        }
        // Streaming: the proxy holds just this chunk (nothing was paused), and it is handed on
        // as soon as the stages return.
        self.chunks_seen = streaming && !end_of_stream;
        self.chunk_end = end_of_stream;
        self.body = Some(host.body(phase.is_response()));
        self.run_phase(host, phase, 0)
    }

    /// Whether a body streams: every stage that still wants it takes it in chunks.
    fn streams(&self, phase: Phase) -> bool {
        (0..self.inner.stages.len()).filter(|&i| self.wants(i, phase)).all(|i| self.takes_chunks(i, phase))
    }

    fn takes_chunks(&self, stage: usize, phase: Phase) -> bool {
        let bits = match phase {
            Phase::RequestBody => self.streamed_request_body,
            Phase::ResponseBody => self.streamed_response_body,
            _ => return false,
        };
        bits & (1 << stage.min(63)) != 0
    }

    fn wants(&self, stage: usize, phase: Phase) -> bool {
        let needs = &self.inner.needs[stage];
        match phase {
            Phase::RequestBody => {
                needs.request_body != BodyNeed::None && self.declined_request_body & (1 << stage.min(63)) == 0
            }
            Phase::ResponseBody => {
                needs.response_body != BodyNeed::None && self.declined_response_body & (1 << stage.min(63)) == 0
            }
            _ => true,
        }
    }

    fn run_phase(&mut self, host: &mut dyn Host, phase: Phase, from: usize) -> Step {
        let now = host.now();
        if matches!(phase, Phase::RequestHeaders) && self.started.is_none() {
            self.started = Some(now);
        }
        for i in from..self.inner.stages.len() {
            if !self.wants(i, phase) {
                continue;
            }
            let flow = self.call_stage(host, i, phase, None, now);
            if let Handled::Stop = self.handle(host, i, phase, flow) {
                return Step::Pause;
            }
        }
        let request_complete = match phase {
            Phase::RequestHeaders => self.headers_only || !self.inner.enforces_approval,
            Phase::RequestBody => self.chunk_end,
            _ => false,
        };
        if request_complete && self.refuse_unapproved(host) {
            return Step::Pause;
        }
        Step::Continue
    }

    fn handle(&mut self, host: &mut dyn Host, stage: usize, phase: Phase, mut flow: Flow) -> Handled {
        loop {
            match flow {
                Flow::Continue => return Handled::Next,
                Flow::Respond(reply) => {
                    host.send_local_reply(&reply);
                    self.replied = true;
                    return Handled::Stop;
                }
                Flow::Callout(_) if self.takes_chunks(stage, phase) => {
                    // A chunk callback cannot hold the stream: fail closed.
                    let name = self.inner.stages[stage].name();
                    host.log(LogLevel::Error, &format!("warden: stage {name} called out from a body chunk: refused"));
                    let reply = LocalReply::new(500, "internal error").with_details("warden_callout_from_chunk");
                    flow = Flow::Respond(reply);
                }
                Flow::Callout(callout) => match host.dispatch(&callout) {
                    Ok(token) => {
                        self.waiting = Some(Waiting { stage, token, phase, tag: callout.tag });
                        return Handled::Stop;
                    }
                    Err(err) => {
                        host.log(LogLevel::Warn, &format!("warden: {err}"));
                        let synthetic =
                            CalloutResponse { status: 503, headers: Vec::new(), body: Vec::new(), tag: callout.tag };
                        let now = host.now();
                        flow = self.call_stage(host, stage, phase, Some(&synthetic), now);
                    }
                },
            }
        }
    }

    fn call_stage(
        &mut self,
        host: &mut dyn Host,
        i: usize,
        phase: Phase,
        callout: Option<&CalloutResponse>,
        now: std::time::SystemTime,
    ) -> Flow {
        let stage = self.inner.stages[i].clone();
        let inner = self.inner.clone();
        let Ok(mut vm_states) = inner.vm.try_borrow_mut() else {
            // Unreachable (a callback never re-enters the chain); fail closed all the same.
            host.log(LogLevel::Error, "warden: a stage's VM state is in use: request refused");
            return Flow::Respond(LocalReply::new(500, "internal error").with_details("warden_vm_state_busy"));
        };
        let mut effects = Vec::new();
        let flow = {
            let view = PhaseView {
                request_headers: &self.request_headers,
                response_headers: &self.response_headers,
                body: self.body.as_deref(),
                host: RefCell::new(&mut *host),
            };
            let takes_chunks = self.takes_chunks(i, phase);
            let end = self.chunk_end;
            let mut cx = Cx {
                request: &view,
                facts: &mut self.facts,
                effects: &mut effects,
                now,
                scratch: &mut self.scratch[i],
                vm: &mut vm_states[i],
                approval_follows: inner.approval_follows[i],
                headers_only: self.headers_only,
                vm_seed: inner.vm_seed,
                started: self.started,
            };
            match (callout, phase) {
                (Some(response), _) => stage.on_callout_response(&mut cx, response),
                (None, Phase::RequestBody) if takes_chunks => stage.on_request_chunk(&mut cx, end),
                (None, Phase::ResponseBody) if takes_chunks => stage.on_response_chunk(&mut cx, end),
                (None, Phase::RequestHeaders) => stage.on_request_headers(&mut cx),
                (None, Phase::RequestBody) => stage.on_request_body(&mut cx),
                (None, Phase::ResponseHeaders) => stage.on_response_headers(&mut cx),
                (None, Phase::ResponseBody) => stage.on_response_body(&mut cx),
                (None, Phase::Log) => {
                    stage.on_log(&mut cx);
                    Flow::Continue
                }
            }
        };
        drop(vm_states);
        // Body choices are per stage, not effects on the host: recorded here, in the phases
        // where they can still apply.
        let bit = 1 << i.min(63);
        let request_phase = phase == Phase::RequestHeaders;
        let response_phase = !matches!(phase, Phase::ResponseBody | Phase::Log);
        effects.retain(|effect| {
            let (applies, bits) = match effect {
                Effect::SkipRequestBody => (request_phase, &mut self.declined_request_body),
                Effect::SkipResponseBody => (response_phase, &mut self.declined_response_body),
                Effect::StreamRequestBody => (request_phase, &mut self.streamed_request_body),
                Effect::StreamResponseBody => (response_phase, &mut self.streamed_response_body),
                _ => return true,
            };
            if applies {
                *bits |= bit;
            }
            false
        });
        let applied = self.apply(host, phase, effects);
        self.export_facts(host);
        match applied {
            Ok(()) => flow,
            Err(err) => {
                // A change a stage asked for (e.g. stripping a spoofed identity header) did not
                // happen: never go on as if it had.
                let name = stage.name();
                host.log(LogLevel::Error, &format!("warden: stage {name}: {err}: request refused"));
                if phase == Phase::Log {
                    return Flow::Continue; // the stream is over: nothing left to refuse
                }
                Flow::Respond(LocalReply::new(500, "internal error").with_details("warden_effect_not_applied"))
            }
        }
    }

    /// Applies effects in order. Stops at the first header or body change that cannot be
    /// made (wrong phase, or refused by the host) and returns why.
    fn apply(&mut self, host: &mut dyn Host, phase: Phase, effects: Vec<Effect>) -> Result<(), KitError> {
        for effect in effects {
            match effect {
                Effect::SetHeader { map, name, value } => self.header_effect(host, phase, map, &name, Some(&value))?,
                Effect::RemoveHeader { map, name } => self.header_effect(host, phase, map, &name, None)?,
                Effect::ReplaceBody(body) => match phase {
                    Phase::RequestBody | Phase::ResponseBody => {
                        host.replace_body(phase.is_response(), &body)?;
                        self.body = Some(body);
                    }
                    other => return Err(KitError::WrongPhase { effect: "replacing the body", phase: other.name() }),
                },
                Effect::Metric { name, kind, value } => host.metric(name, kind, value),
                Effect::Log { level, message } => host.log(level, &message),
                // Per stage, in `call_stage`.
                Effect::SkipRequestBody
                | Effect::SkipResponseBody
                | Effect::StreamRequestBody
                | Effect::StreamResponseBody => {}
            }
        }
        Ok(())
    }

    fn header_effect(
        &mut self,
        host: &mut dyn Host,
        phase: Phase,
        map: HeaderMap,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), KitError> {
        let (allowed, cache) = match map {
            HeaderMap::Request => (phase == Phase::RequestHeaders, &mut self.request_headers),
            HeaderMap::Response => (phase == Phase::ResponseHeaders, &mut self.response_headers),
        };
        if !allowed {
            // Envoy no longer has the map: calling the host would fail (and the SDK would panic).
            return Err(KitError::WrongPhase { effect: "changing headers", phase: phase.name() });
        }
        // Removing a header the request does not have needs no hostcall (the identity stage
        // strips its upstream headers from every request: ≈ 0.6 µs each in Envoy's V8). Only
        // when the map was read: an empty one (a failed read) is never trusted to be complete.
        if value.is_none() && !cache.is_empty() && !cache.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return Ok(());
        }
        host.set_header(map, name, value)?;
        cache.retain(|(k, _)| k != name);
        if let Some(value) = value {
            cache.push((name.to_string(), value.to_string()));
        }
        Ok(())
    }

    fn export_facts(&mut self, host: &mut dyn Host) {
        for (key, value) in self.facts.take_changes() {
            if let Err(err) = host.set_filter_state(key, &value) {
                host.log(LogLevel::Error, &format!("warden: cannot export fact {key}: {err}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{APPROVED, REQUIRE_APPROVAL};
    use crate::facts::{ApprovalStatus, Verdict};

    #[test]
    fn the_guard_reads_the_names_the_fact_shapes_write() {
        assert_eq!(serde_json::to_value(Verdict::RequireApproval).ok(), Some(REQUIRE_APPROVAL.into()));
        assert_eq!(serde_json::to_value(ApprovalStatus::Approved).ok(), Some(APPROVED.into()));
    }
}
