//! One request stream through the chain, modelled on Envoy's filter manager: decoder filters
//! in order, encoder filters in reverse, iteration stopped and resumed per filter.

use super::events::Event;
use super::{CallSite, Called, Proxy, ScriptedResponse, ROOT_CONTEXT};
use crate::host::state::{Access, Pairs, StreamData};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Handle of a stream sent through a [`Proxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamId(pub usize);

/// How a stream ended, as the downstream client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A whole response arrived.
    Complete,
    /// The stream was reset (no complete response).
    Reset,
    /// Nothing more arrived before the deadline (a hung stream).
    Timeout,
}

/// What the upstream received.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UpstreamSeen {
    /// Request headers as sent upstream (pseudo-headers included).
    pub headers: Vec<(String, String)>,
    /// Request body as received (after any content-length truncation).
    pub body: Vec<u8>,
    /// Whether the whole request arrived.
    pub complete: bool,
}

/// What the downstream client saw, plus stream-level facts for assertions.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StreamReport {
    /// How the stream ended; `None` while it is still open.
    pub outcome: Option<Outcome>,
    /// Response status.
    pub status: Option<u16>,
    /// Response headers (without `:status`).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
    /// What the upstream received, if the request reached it.
    pub upstream: Option<UpstreamSeen>,
    /// Filter state at the end of the stream (`wasm.<key>` → value).
    pub filter_state: BTreeMap<String, String>,
    /// Details of a local reply (`wasm_fail_stream`, or the filter's own).
    pub local_reply_details: Option<String>,
    /// The response body the client had when the upstream sent a held-back last chunk
    /// ([`super::ScriptedResponse::hold_last_chunk_ms`]).
    pub body_before_last_chunk: Option<Vec<u8>>,
}

/// A local reply a filter asked for.
#[derive(Debug, Clone)]
pub(super) struct LocalReply {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    pub headers: Pairs,
}

/// Stream-level requests made during a callback, acted on when it returns.
#[derive(Debug, Clone)]
pub(super) enum Pending {
    Continue { filter: usize, response: bool },
    Reset,
    LocalReply(LocalReply),
}

/// How a filter takes part in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    /// A live context.
    Live(u32),
    /// Skipped (`FAIL_OPEN` after a VM failure).
    Bypass,
    /// Its VM is failed and the policy closes the stream.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Request,
    Response,
}

/// Iteration state of one direction: one [`FilterFlow`] per position in call order
/// (request: config order; response: reverse).
#[derive(Debug, Default)]
struct Flow {
    at: Vec<FilterFlow>,
}

impl Flow {
    fn new(n: usize) -> Flow {
        Flow { at: (0..n).map(|_| FilterFlow::default()).collect() }
    }
}

/// Where one filter is in one direction of one stream, as Envoy's filter manager tracks it.
#[derive(Debug, Default)]
struct FilterFlow {
    /// The headers reached this filter (its headers callback was called).
    offered: bool,
    /// The filter let the headers go on (returned Continue, or was resumed).
    passed: bool,
    /// The headers came with end of stream (no body, no trailers).
    headers_end: bool,
    /// Body bytes that reached this filter and are not yet passed on (buffered while the
    /// headers or the body are held).
    buffer: Vec<u8>,
    /// The end of the body (or the trailers that end it) reached this filter.
    end_in: bool,
    /// The filter stopped the body (StopIterationAndBuffer / StopIterationNoBuffer); a resume
    /// lets it go on.
    body_held: bool,
    /// Trailers reached this filter.
    trailers_in: bool,
    /// The filter stopped the trailers; a resume lets them go on.
    trailers_held: bool,
    /// The filter's trailers callback is running (it may change the trailers).
    in_trailers: bool,
}

#[derive(Debug, Default)]
struct Sink {
    headers: Option<Pairs>,
    body: Vec<u8>,
    complete: bool,
    /// The body as it was when the upstream sent a held-back last chunk.
    body_before_last_chunk: Option<Vec<u8>>,
}

pub(super) struct Stream {
    pub(super) worker: usize,
    pub(super) data: Rc<RefCell<StreamData>>,
    members: Vec<Member>,
    req: Flow,
    resp: Flow,
    resp_epoch: u32,
    req_aborted: bool,
    upstream: Sink,
    downstream: Sink,
    local_reply_details: Option<String>,
    pub(super) outcome: Option<Outcome>,
    pub(super) pending: Vec<Pending>,
}

fn text_pairs(pairs: &Pairs) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())).collect()
}

fn content_length(pairs: &Pairs) -> Option<usize> {
    let (_, v) = pairs.iter().find(|(k, _)| k == "content-length")?;
    String::from_utf8_lossy(v).trim().parse().ok()
}

impl Stream {
    fn n(&self) -> usize {
        self.members.len()
    }

    pub(super) fn context_of(&self, filter: usize) -> Option<u32> {
        match self.members.get(filter)? {
            Member::Live(ctx) => Some(*ctx),
            _ => None,
        }
    }

    fn position(&self, dir: Dir, filter: usize) -> usize {
        match dir {
            Dir::Request => filter,
            Dir::Response => self.n() - 1 - filter,
        }
    }

    fn filter_at(&self, dir: Dir, p: usize) -> usize {
        self.position(dir, p)
    }

    fn flow(&mut self, dir: Dir) -> &mut Flow {
        match dir {
            Dir::Request => &mut self.req,
            Dir::Response => &mut self.resp,
        }
    }

    /// What filter `filter` may change in its current callback.
    pub(super) fn access_for(&self, filter: usize) -> Access {
        if self.outcome.is_some() {
            return Access { log_phase: true, ..Access::default() };
        }
        let (pr, pp) = (filter, self.n() - 1 - filter);
        Access {
            request_headers: self.req.at[pr].offered && !self.req.at[pr].passed && !self.req_aborted,
            response_headers: self.resp.at[pp].offered && !self.resp.at[pp].passed,
            log_phase: false,
            request_trailers: self.req.at[pr].in_trailers,
            response_trailers: self.resp.at[pp].in_trailers,
        }
    }
}

/// A token that says whether a direction's iteration is still the one that started.
#[derive(Clone, Copy)]
struct Epoch {
    sid: usize,
    dir: Dir,
    resp_epoch: u32,
}

impl Proxy {
    fn alive(&self, e: Epoch) -> bool {
        let s = &self.streams[e.sid];
        s.outcome.is_none()
            && match e.dir {
                Dir::Request => !s.req_aborted,
                Dir::Response => s.resp_epoch == e.resp_epoch,
            }
    }

    fn epoch(&self, sid: usize, dir: Dir) -> Epoch {
        Epoch { sid, dir, resp_epoch: self.streams[sid].resp_epoch }
    }

    /// Opens a stream on `worker` with request `headers` (pseudo-headers included). Like
    /// Envoy's connection manager it adds `x-request-id` (when absent) and `x-forwarded-proto`
    /// before the first filter runs.
    pub fn send_headers(&mut self, worker: usize, mut headers: Pairs, end_of_stream: bool) -> StreamId {
        for (k, _) in headers.iter_mut() {
            *k = k.to_ascii_lowercase();
        }
        if !headers.iter().any(|(k, _)| k == "x-request-id") {
            let (a, b) = {
                let mut world = self.world.borrow_mut();
                (world.next_random(), world.next_random())
            };
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                b >> 52,
                b & 0xffff_ffff_ffff
            );
            headers.push(("x-request-id".into(), id.into_bytes()));
        }
        if !headers.iter().any(|(k, _)| k == "x-forwarded-proto") {
            headers.push(("x-forwarded-proto".into(), b"http".to_vec()));
        }
        let worker = worker.min(self.slots.first().map_or(1, Vec::len).saturating_sub(2));
        let n = self.slots.len();
        let data = Rc::new(RefCell::new(self.new_stream_data(headers)));
        let sid = self.streams.len();
        self.streams.push(Stream {
            worker,
            data,
            members: vec![Member::Bypass; n],
            req: Flow::new(n),
            resp: Flow::new(n),
            resp_epoch: 0,
            req_aborted: false,
            upstream: Sink::default(),
            downstream: Sink::default(),
            local_reply_details: None,
            outcome: None,
            pending: Vec::new(),
        });
        for f in 0..n {
            let member = self.member_for(f, worker, sid);
            self.streams[sid].members[f] = member;
        }
        self.offer_headers(sid, Dir::Request, 0, end_of_stream);
        StreamId(sid)
    }

    /// Creates the filter's context for a new stream, applying `failure_policy` to a failed VM.
    fn member_for(&mut self, f: usize, worker: usize, sid: usize) -> Member {
        let v = worker + 1;
        if self.slots[f][v].vm.is_none() {
            let policy = self.config.filters[f].failure_policy;
            match policy {
                super::FailurePolicy::FailOpen => return Member::Bypass,
                super::FailurePolicy::FailReload if self.now_ns >= self.slots[f][v].reload_at_ns => {
                    if self.start_vm(f, v).is_err() {
                        self.slots[f][v].reload_at_ns = self.now_ns + super::RELOAD_BACKOFF_NS;
                        return Member::Dead;
                    }
                }
                _ => return Member::Dead,
            }
        }
        let ctx = self.slots[f][v].next_context;
        self.slots[f][v].next_context += 1;
        let site = CallSite { filter: f, vm: v, context_id: ctx, stream: Some(StreamId(sid)) };
        match self.call(&site, "proxy_on_context_create", &[ctx as i32, ROOT_CONTEXT as i32]) {
            Called::Returned(_) => Member::Live(ctx),
            _ => Member::Dead,
        }
    }

    /// Sends request body bytes.
    pub fn send_data(&mut self, sid: StreamId, bytes: &[u8], end_of_stream: bool) {
        if self.alive(self.epoch(sid.0, Dir::Request)) {
            self.offer_data(sid.0, Dir::Request, 0, bytes.to_vec(), end_of_stream);
        }
    }

    /// Sends request trailers (ending the request).
    pub fn send_trailers(&mut self, sid: StreamId, trailers: Pairs) {
        if self.alive(self.epoch(sid.0, Dir::Request)) {
            self.streams[sid.0].data.borrow_mut().request_trailers = trailers;
            self.offer_trailers(sid.0, Dir::Request, 0);
        }
    }

    /// Answers the upstream request by hand (when the config has no upstream script).
    pub fn respond(&mut self, sid: StreamId, response: ScriptedResponse) {
        self.upstream_response(sid, response);
    }

    /// Runs events until the stream ends or `timeout_ms` of virtual time pass (then the
    /// stream is a [`Outcome::Timeout`]: the client gave up), and returns what it saw.
    pub fn finish(&mut self, sid: StreamId, timeout_ms: u64) -> StreamReport {
        let deadline = self.now_ns + timeout_ms * 1_000_000;
        self.run_events(deadline, Some(sid));
        if self.streams[sid.0].outcome.is_none() {
            self.now_ns = deadline;
            self.end_stream(sid.0, super::Outcome::Timeout);
        }
        self.report(sid)
    }

    /// What the client and the upstream have seen so far.
    pub fn report(&self, sid: StreamId) -> StreamReport {
        let s = &self.streams[sid.0];
        let data = s.data.borrow();
        let headers = s.downstream.headers.clone().unwrap_or_default();
        let status =
            headers.iter().find(|(k, _)| k == ":status").and_then(|(_, v)| String::from_utf8_lossy(v).parse().ok());
        StreamReport {
            outcome: s.outcome,
            status,
            headers: text_pairs(&headers).into_iter().filter(|(k, _)| k != ":status").collect(),
            body: s.downstream.body.clone(),
            upstream: s.upstream.headers.as_ref().map(|h| UpstreamSeen {
                headers: text_pairs(h),
                body: s.upstream.body.clone(),
                complete: s.upstream.complete,
            }),
            filter_state: data
                .filter_state
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            local_reply_details: s.local_reply_details.clone(),
            body_before_last_chunk: s.downstream.body_before_last_chunk.clone(),
        }
    }

    fn site(&self, sid: usize, f: usize) -> Option<CallSite> {
        let s = &self.streams[sid];
        s.context_of(f).map(|ctx| CallSite {
            filter: f,
            vm: s.worker + 1,
            context_id: ctx,
            stream: Some(StreamId(sid)),
        })
    }

    /// Calls a stream callback; `None` means "treat as Continue" (bypassed or failed filter);
    /// a trap fails the stream with a 503 and returns `Some(None)`.
    fn stream_call(&mut self, sid: usize, f: usize, export: &'static str, args: &[i32]) -> Option<Option<i32>> {
        let site = self.site(sid, f)?;
        let was_live = self.slots[f][site.vm].vm.is_some();
        match self.call(&site, export, args) {
            Called::Returned(value) => Some(value),
            Called::Failed if was_live => {
                self.streams[sid].pending.clear();
                self.local_reply(
                    sid,
                    super::stream::LocalReply {
                        status: 503,
                        details: "wasm_fail_stream".into(),
                        body: Vec::new(),
                        headers: Vec::new(),
                    },
                );
                Some(Some(-1))
            }
            Called::Failed => None,
        }
    }

    /// Acts on what a callback asked for; returns true when a local reply or reset superseded
    /// the current iteration.
    fn apply_pending(&mut self, sid: usize) -> bool {
        let pending = std::mem::take(&mut self.streams[sid].pending);
        let mut superseded = false;
        for item in pending {
            match item {
                Pending::LocalReply(reply) => {
                    self.local_reply(sid, reply);
                    superseded = true;
                }
                Pending::Reset => {
                    self.end_stream(sid, super::Outcome::Reset);
                    superseded = true;
                }
                Pending::Continue { filter, response } => {
                    if !superseded {
                        let dir = if response { Dir::Response } else { Dir::Request };
                        let p = self.streams[sid].position(dir, filter);
                        self.resume(sid, dir, p);
                    }
                }
            }
        }
        superseded
    }

    /// After a callout/gRPC callback: act on continue/local reply requests of that stream.
    pub(super) fn after_stream_call(&mut self, site: &CallSite) {
        if let Some(sid) = site.stream {
            if self.streams[sid.0].outcome.is_none() {
                self.apply_pending(sid.0);
            }
        }
    }

    fn offer_headers(&mut self, sid: usize, dir: Dir, p: usize, end: bool) {
        let n = self.streams[sid].n();
        if p == n {
            return self.sink_headers(sid, dir, end);
        }
        let epoch = self.epoch(sid, dir);
        let f = self.streams[sid].filter_at(dir, p);
        {
            let flow = self.streams[sid].flow(dir);
            flow.at[p].offered = true;
            flow.at[p].headers_end = end;
            if end {
                flow.at[p].end_in = true;
            }
        }
        if dir == Dir::Request && self.streams[sid].members[f] == Member::Dead {
            return self.local_reply(
                sid,
                LocalReply { status: 503, details: "wasm_fail_stream".into(), body: Vec::new(), headers: Vec::new() },
            );
        }
        let (export, count) = match dir {
            Dir::Request => ("proxy_on_request_headers", self.streams[sid].data.borrow().request_headers.len()),
            Dir::Response => ("proxy_on_response_headers", self.streams[sid].data.borrow().response_headers.len()),
        };
        let ctx = self.streams[sid].context_of(f).unwrap_or(0) as i32;
        let action = self.stream_call(sid, f, export, &[ctx, count as i32, i32::from(end)]);
        if !self.alive(epoch) || self.apply_pending(sid) || !self.alive(epoch) {
            return;
        }
        if let Some(Some(1)) = action {
            return; // Paused: body and trailers wait at this filter until it resumes.
        }
        self.streams[sid].flow(dir).at[p].passed = true;
        self.offer_headers(sid, dir, p + 1, end);
        self.after_headers_passed(sid, dir, p, epoch);
    }

    /// Delivers what arrived at `p` while its headers were paused.
    fn after_headers_passed(&mut self, sid: usize, dir: Dir, p: usize, epoch: Epoch) {
        if !self.alive(epoch) {
            return;
        }
        let flow = self.streams[sid].flow(dir);
        let headers_end = flow.at[p].headers_end;
        let has_body = !flow.at[p].buffer.is_empty() || (flow.at[p].end_in && !headers_end);
        let has_trailers = flow.at[p].trailers_in;
        if has_body {
            self.call_body(sid, dir, p);
        } else if has_trailers {
            self.call_trailers(sid, dir, p);
        }
    }

    fn offer_data(&mut self, sid: usize, dir: Dir, p: usize, bytes: Vec<u8>, end: bool) {
        let n = self.streams[sid].n();
        if p == n {
            return self.sink_data(sid, dir, bytes, end);
        }
        let flow = self.streams[sid].flow(dir);
        flow.at[p].buffer.extend_from_slice(&bytes);
        if end {
            flow.at[p].end_in = true;
        }
        if flow.at[p].passed && !flow.at[p].body_held {
            self.call_body(sid, dir, p);
        }
    }

    fn call_body(&mut self, sid: usize, dir: Dir, p: usize) {
        let epoch = self.epoch(sid, dir);
        let f = self.streams[sid].filter_at(dir, p);
        let (bytes, end) = {
            let flow = self.streams[sid].flow(dir);
            (std::mem::take(&mut flow.at[p].buffer), flow.at[p].end_in)
        };
        let len = bytes.len();
        {
            let mut data = self.streams[sid].data.borrow_mut();
            match dir {
                Dir::Request => data.request_body = bytes,
                Dir::Response => data.response_body = bytes,
            }
        }
        let export = match dir {
            Dir::Request => "proxy_on_request_body",
            Dir::Response => "proxy_on_response_body",
        };
        let ctx = self.streams[sid].context_of(f).unwrap_or(0) as i32;
        let action = self.stream_call(sid, f, export, &[ctx, len as i32, i32::from(end)]);
        let body = {
            let mut data = self.streams[sid].data.borrow_mut();
            match dir {
                Dir::Request => std::mem::take(&mut data.request_body),
                Dir::Response => std::mem::take(&mut data.response_body),
            }
        };
        self.streams[sid].flow(dir).at[p].buffer = body;
        if !self.alive(epoch) || self.apply_pending(sid) || !self.alive(epoch) {
            return;
        }
        if let Some(Some(1)) = action {
            if end {
                self.streams[sid].flow(dir).at[p].body_held = true;
            }
            return; // Buffering: the next chunk re-delivers the whole buffer.
        }
        self.forward(sid, dir, p);
    }

    /// Passes everything buffered at `p` to the next position.
    fn forward(&mut self, sid: usize, dir: Dir, p: usize) {
        let epoch = self.epoch(sid, dir);
        let (bytes, end, trailers) = {
            let flow = self.streams[sid].flow(dir);
            let trailers = flow.at[p].trailers_in;
            let end = flow.at[p].end_in && !trailers && !flow.at[p].headers_end;
            (std::mem::take(&mut flow.at[p].buffer), end, trailers)
        };
        if !bytes.is_empty() || end {
            self.offer_data(sid, dir, p + 1, bytes, end);
        }
        if trailers && self.alive(epoch) {
            self.call_trailers(sid, dir, p);
        }
    }

    fn offer_trailers(&mut self, sid: usize, dir: Dir, p: usize) {
        let n = self.streams[sid].n();
        if p == n {
            return self.sink_end(sid, dir, true);
        }
        let flow = self.streams[sid].flow(dir);
        flow.at[p].trailers_in = true;
        flow.at[p].end_in = true;
        if flow.at[p].passed && !flow.at[p].body_held {
            self.call_trailers(sid, dir, p);
        }
    }

    fn call_trailers(&mut self, sid: usize, dir: Dir, p: usize) {
        let epoch = self.epoch(sid, dir);
        let f = self.streams[sid].filter_at(dir, p);
        let (export, count) = match dir {
            Dir::Request => ("proxy_on_request_trailers", self.streams[sid].data.borrow().request_trailers.len()),
            Dir::Response => ("proxy_on_response_trailers", self.streams[sid].data.borrow().response_trailers.len()),
        };
        self.streams[sid].flow(dir).at[p].in_trailers = true;
        let ctx = self.streams[sid].context_of(f).unwrap_or(0) as i32;
        let action = self.stream_call(sid, f, export, &[ctx, count as i32]);
        self.streams[sid].flow(dir).at[p].in_trailers = false;
        if !self.alive(epoch) || self.apply_pending(sid) || !self.alive(epoch) {
            return;
        }
        if let Some(Some(1)) = action {
            self.streams[sid].flow(dir).at[p].trailers_held = true;
            return;
        }
        self.pass_trailers(sid, dir, p, epoch);
    }

    /// Passes buffered data, then the trailers, from `p` to the next position.
    fn pass_trailers(&mut self, sid: usize, dir: Dir, p: usize, epoch: Epoch) {
        let bytes = std::mem::take(&mut self.streams[sid].flow(dir).at[p].buffer);
        if !bytes.is_empty() {
            self.offer_data(sid, dir, p + 1, bytes, false);
        }
        if self.alive(epoch) {
            self.offer_trailers(sid, dir, p + 1);
        }
    }

    /// `proxy_continue_stream` from the filter at `p`.
    fn resume(&mut self, sid: usize, dir: Dir, p: usize) {
        let epoch = self.epoch(sid, dir);
        if !self.alive(epoch) {
            return;
        }
        let flow = self.streams[sid].flow(dir);
        if flow.at[p].offered && !flow.at[p].passed {
            flow.at[p].passed = true;
            let end = flow.at[p].headers_end;
            self.offer_headers(sid, dir, p + 1, end);
            self.after_headers_passed(sid, dir, p, epoch);
        } else if flow.at[p].body_held {
            flow.at[p].body_held = false;
            self.forward(sid, dir, p);
        } else if flow.at[p].trailers_held {
            flow.at[p].trailers_held = false;
            self.pass_trailers(sid, dir, p, epoch);
        } else if !flow.at[p].buffer.is_empty() {
            self.forward(sid, dir, p);
        }
    }

    fn sink_headers(&mut self, sid: usize, dir: Dir, end: bool) {
        let s = &mut self.streams[sid];
        let data = s.data.borrow();
        match dir {
            Dir::Request => s.upstream.headers = Some(data.request_headers.clone()),
            Dir::Response => s.downstream.headers = Some(data.response_headers.clone()),
        }
        drop(data);
        if end {
            self.sink_end(sid, dir, false);
        }
    }

    fn sink_data(&mut self, sid: usize, dir: Dir, bytes: Vec<u8>, end: bool) {
        let s = &mut self.streams[sid];
        match dir {
            Dir::Request => s.upstream.body.extend_from_slice(&bytes),
            Dir::Response => s.downstream.body.extend_from_slice(&bytes),
        }
        if end {
            self.sink_end(sid, dir, false);
        }
    }

    /// The request reached the upstream whole, or the response reached the client whole.
    /// A stale `content-length` truncates a longer body and hangs on a shorter one.
    fn sink_end(&mut self, sid: usize, dir: Dir, _trailers: bool) {
        let s = &mut self.streams[sid];
        let sink = match dir {
            Dir::Request => &mut s.upstream,
            Dir::Response => &mut s.downstream,
        };
        let declared = sink.headers.as_ref().and_then(content_length);
        let short = declared.is_some_and(|cl| sink.body.len() < cl);
        if let Some(cl) = declared {
            sink.body.truncate(cl);
        }
        match (dir, short) {
            (Dir::Request, false) => {
                sink.complete = true;
                if let Some(response) = self.config.upstream.clone() {
                    self.schedule(response.delay_ms, Event::Upstream { stream: StreamId(sid), response });
                }
            }
            (Dir::Request, true) => {
                // The upstream waits for bytes that never come: the route times out.
                let timeout = self.config.route_timeout_ms;
                let response = ScriptedResponse {
                    status: 504,
                    headers: vec![("content-type".into(), b"text/plain".to_vec())],
                    chunks: vec![b"upstream request timeout".to_vec()],
                    ..ScriptedResponse::default()
                };
                self.schedule(timeout, Event::Upstream { stream: StreamId(sid), response });
            }
            (Dir::Response, false) => {
                sink.complete = true;
                self.end_stream(sid, super::Outcome::Complete);
            }
            (Dir::Response, true) => {} // The client keeps waiting: `finish` reports a timeout.
        }
    }

    pub(super) fn upstream_response(&mut self, sid: StreamId, response: ScriptedResponse) {
        let sid = sid.0;
        {
            let s = &self.streams[sid];
            if s.outcome.is_some() || s.req_aborted || s.data.borrow().response_started {
                return;
            }
        }
        let mut headers: Pairs = vec![(":status".into(), response.status.to_string().into_bytes())];
        headers.extend(response.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        if response.chunks.len() == 1 && !headers.iter().any(|(k, _)| k == "content-length") {
            headers.push(("content-length".into(), response.chunks[0].len().to_string().into_bytes()));
        }
        {
            let mut data = self.streams[sid].data.borrow_mut();
            data.response_headers = headers;
            data.response_trailers = response.trailers.clone();
            data.response_started = true;
        }
        let chunks: Vec<Vec<u8>> = response.chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let has_trailers = !response.trailers.is_empty();
        let epoch = self.epoch(sid, Dir::Response);
        self.offer_headers(sid, Dir::Response, 0, chunks.is_empty() && !has_trailers);
        // Envoy's HTTP/1 codec hands over each body chunk with end_of_stream false and then
        // signals the end in an empty callback of its own (measured).
        let had_body = !chunks.is_empty();
        let mut chunks = chunks;
        let held = if response.hold_last_chunk_ms > 0 && chunks.len() >= 2 { chunks.pop() } else { None };
        for chunk in chunks {
            if !self.alive(epoch) {
                return;
            }
            self.offer_data(sid, Dir::Response, 0, chunk, false);
        }
        if let Some(chunk) = held {
            let event = Event::UpstreamLastChunk { stream: StreamId(sid), chunk, trailers: has_trailers };
            return self.schedule(response.hold_last_chunk_ms, event);
        }
        self.end_upstream_body(sid, epoch, had_body, has_trailers);
    }

    /// The held-back last chunk of the upstream response: what the client has by now is
    /// recorded, then the chunk and the end of the body go through the filters.
    pub(super) fn upstream_last_chunk(&mut self, sid: StreamId, chunk: Vec<u8>, has_trailers: bool) {
        let sid = sid.0;
        let epoch = self.epoch(sid, Dir::Response);
        if self.streams[sid].outcome.is_some() || !self.alive(epoch) {
            return;
        }
        let sink = &mut self.streams[sid].downstream;
        sink.body_before_last_chunk = Some(sink.body.clone());
        self.offer_data(sid, Dir::Response, 0, chunk, false);
        self.end_upstream_body(sid, epoch, true, has_trailers);
    }

    fn end_upstream_body(&mut self, sid: usize, epoch: Epoch, had_body: bool, has_trailers: bool) {
        if has_trailers && self.alive(epoch) {
            self.offer_trailers(sid, Dir::Response, 0);
        } else if had_body && self.alive(epoch) {
            self.offer_data(sid, Dir::Response, 0, Vec::new(), true);
        }
    }

    /// A local reply: replaces the response unless the client already has response headers
    /// (then the stream is reset). Runs the response callbacks of every filter.
    fn local_reply(&mut self, sid: usize, reply: LocalReply) {
        if self.streams[sid].downstream.headers.is_some() {
            return self.end_stream(sid, super::Outcome::Reset);
        }
        let n = self.streams[sid].n();
        // Once the response is in the encoder filters, Envoy sends a local reply directly,
        // without running response callbacks again.
        let direct = self.streams[sid].resp.at.iter().any(|f| f.offered);
        {
            let s = &mut self.streams[sid];
            s.req_aborted = true;
            s.resp_epoch += 1;
            s.resp = Flow::new(n);
            s.local_reply_details = Some(reply.details.clone());
            let mut headers: Pairs = vec![(":status".into(), reply.status.to_string().into_bytes())];
            headers.push(("content-length".into(), reply.body.len().to_string().into_bytes()));
            if !reply.body.is_empty() {
                headers.push(("content-type".into(), b"text/plain".to_vec()));
            }
            for (k, v) in reply.headers {
                headers.retain(|(existing, _)| *existing != k);
                headers.push((k, v));
            }
            let mut data = s.data.borrow_mut();
            data.response_headers = headers;
            data.response_body.clear();
            data.response_started = true;
        }
        if direct {
            let s = &mut self.streams[sid];
            s.downstream.headers = Some(s.data.borrow().response_headers.clone());
            s.downstream.body = reply.body;
            s.downstream.complete = true;
            return self.end_stream(sid, super::Outcome::Complete);
        }
        let epoch = self.epoch(sid, Dir::Response);
        self.offer_headers(sid, Dir::Response, 0, reply.body.is_empty());
        if !reply.body.is_empty() && self.alive(epoch) {
            self.offer_data(sid, Dir::Response, 0, reply.body, true);
        }
    }

    /// Ends the stream: `on_done`, `on_log`, `on_delete` for every live context.
    pub(super) fn end_stream(&mut self, sid: usize, outcome: super::Outcome) {
        if self.streams[sid].outcome.is_some() {
            return;
        }
        self.streams[sid].outcome = Some(outcome);
        self.streams[sid].pending.clear();
        let n = self.streams[sid].n();
        for f in 0..n {
            let Some(site) = self.site(sid, f) else { continue };
            let ctx = site.context_id as i32;
            self.call(&site, "proxy_on_done", &[ctx]);
            self.call(&site, "proxy_on_log", &[ctx]);
            self.call(&site, "proxy_on_delete", &[ctx]);
        }
        self.streams[sid].pending.clear();
    }
}
