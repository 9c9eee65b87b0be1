//! The stage contract: immutable compiled config plus pure callbacks.

use crate::effect::{Callout, CalloutResponse, Effect, LocalReply};
use crate::facts::Facts;
use crate::failure::FailureMode;
use crate::scratch::Scratch;
use crate::view::RequestView;
use crate::vm_state::VmState;
use std::time::{Duration, SystemTime};

/// How a stage needs a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyNeed {
    /// Not at all: the body streams through (no buffering).
    #[default]
    None,
    /// Read it whole at end of stream (the proxy buffers it).
    Inspect,
    /// Read and possibly replace it (`content-length` is removed in the headers phase).
    /// A stage that needs a body may take it in chunks instead, per request: see
    /// [`crate::Effect::StreamResponseBody`].
    Rewrite,
}

/// What a stage needs from the chain; decided at configure time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Request body.
    pub request_body: BodyNeed,
    /// Response body.
    pub response_body: BodyNeed,
    /// Names of the fact keys read from filter state when the stage runs as a separate
    /// filter (for example `facts::IDENTITY.name()` for the policy stage).
    pub reads_facts: &'static [&'static str],
    /// Whether this stage enforces approvals: it lets a request whose `warden.decision` is
    /// `require_approval` go on only once `warden.approval` says `approved`. Stages before it
    /// in the same chain see [`Cx::approval_follows`].
    pub enforces_approval: bool,
    /// Whether `on_response_headers` does anything. When no stage says so, the chain skips the
    /// response headers phase without a single hostcall.
    pub response_headers: bool,
    /// Whether `on_log` does anything (skipped otherwise).
    pub log: bool,
    /// Largest body this stage will buffer (`None`: no limit of its own). The chain buffers
    /// at most the smallest limit of its stages (and of `Chain::with_max_body_bytes`). A body
    /// that streams in chunks is not buffered and not held to it: its stages bound what they
    /// carry over between chunks.
    pub max_body_bytes: Option<usize>,
}

/// What a stage callback returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Go on to the next stage.
    Continue,
    /// Answer the client now; later stages do not run.
    Respond(LocalReply),
    /// Pause the stream, call out, and call this stage's `on_callout_response` with the answer.
    Callout(Callout),
}

/// Everything a stage callback may read and write.
pub struct Cx<'a> {
    /// The request (and response) as the proxy has it in this phase.
    pub request: &'a dyn RequestView,
    /// Per-request facts: read earlier stages' facts, write this stage's.
    pub facts: &'a mut Facts,
    /// Effects to apply after the callback, in order.
    pub effects: &'a mut Vec<Effect>,
    /// Current time (an input: cores never read a clock).
    pub now: SystemTime,
    /// This stage's working state for this request (memory only, never exported).
    pub scratch: &'a mut Scratch,
    /// This stage's mutable state for this VM ([`Stage::vm_state`]), shared by every request.
    pub vm: &'a mut VmState,
    /// Whether a later stage of this chain enforces approvals ([`Needs::enforces_approval`]).
    /// When none does, a `require_approval` request must be refused: the chain refuses it
    /// anyway (403 `approval_unavailable`) if a stage lets it through.
    pub approval_follows: bool,
    /// Whether the request has no body: its headers ended the stream (a body phase follows
    /// otherwise, even for a stage that will not read it).
    pub headers_only: bool,
    /// Random bytes drawn once for this VM by the adapter (an input: cores never draw them),
    /// e.g. to name the VM's audit record stream. All zero when the host gave none.
    pub vm_seed: [u8; 16],
    /// When the request headers reached this chain (the proxy's clock); `None` if they never
    /// did (an earlier filter answered the request first).
    pub started: Option<SystemTime>,
}

/// A filter stage: compiled, immutable configuration shared by every request of a worker.
/// Callbacks must not panic; anything that can fail returns a [`Flow`] that says what to do.
pub trait Stage {
    /// Stage name as used in the suite's `stages` list (e.g. `guard`).
    fn name(&self) -> &'static str;
    /// What the stage needs (bodies, facts). Default: headers only.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// This stage's mutable state for one VM, created once when a chain is built (default:
    /// none). See [`VmState`].
    fn vm_state(&self) -> VmState {
        VmState::default()
    }
    /// Behaviour when the chain cannot give the stage what it needs (body too large).
    fn failure_mode(&self) -> FailureMode {
        FailureMode::Closed
    }
    /// Request headers phase.
    fn on_request_headers(&self, _cx: &mut Cx<'_>) -> Flow {
        Flow::Continue
    }
    /// Whole request body (only with a [`Needs::request_body`] other than `None`).
    fn on_request_body(&self, _cx: &mut Cx<'_>) -> Flow {
        Flow::Continue
    }
    /// Response headers phase.
    fn on_response_headers(&self, _cx: &mut Cx<'_>) -> Flow {
        Flow::Continue
    }
    /// Whole response body (only with a [`Needs::response_body`] other than `None`).
    fn on_response_body(&self, _cx: &mut Cx<'_>) -> Flow {
        Flow::Continue
    }
    /// One chunk of a request body this stage asked to take in chunks
    /// ([`crate::Effect::StreamRequestBody`]): `cx.request.body()` is the chunk and
    /// [`crate::Effect::ReplaceBody`] replaces just that chunk; `end` marks the last one. When
    /// another stage needs the whole body, the chain buffers it and this is called once, with
    /// the whole body and `end` true. Callouts are refused here (the stream is not paused).
    fn on_request_chunk(&self, _cx: &mut Cx<'_>, _end: bool) -> Flow {
        Flow::Continue
    }
    /// One chunk of a response body this stage asked to take in chunks
    /// ([`crate::Effect::StreamResponseBody`]); as [`Stage::on_request_chunk`].
    fn on_response_chunk(&self, _cx: &mut Cx<'_>, _end: bool) -> Flow {
        Flow::Continue
    }
    /// Answer to a callout this stage asked for.
    fn on_callout_response(&self, _cx: &mut Cx<'_>, _response: &CalloutResponse) -> Flow {
        Flow::Continue
    }
    /// End of the stream (access-log time): facts are final. Called only for stages whose
    /// [`Needs::log`] is true.
    fn on_log(&self, _cx: &mut Cx<'_>) {}
    /// What this stage asks of, and offers to, the other stages of its chain; checked once
    /// when the chain is compiled ([`crate::contract::check`]). Default: nothing.
    fn contract(&self) -> crate::contract::Contract {
        crate::contract::Contract::default()
    }
    /// How often [`Stage::on_tick`] runs in each VM's root context; `None` (default): never.
    fn tick_period(&self) -> Option<Duration> {
        None
    }
    /// Background work between requests (e.g. refreshing keys): callouts to make. Their
    /// answers come to [`Stage::on_background_response`]. Effects: logs and metrics only.
    fn on_tick(&self, _now: SystemTime, _vm: &mut VmState, _effects: &mut Vec<Effect>) -> Vec<Callout> {
        Vec::new()
    }
    /// The VM (or component instance) is about to end: callouts that ship what is still held
    /// (e.g. buffered evidence records), answered through [`Stage::on_background_response`].
    /// Hosts with short-lived instances (a `wasi:http` component often lives for one
    /// request) call it after every request. Effects: logs and metrics only. Default: nothing.
    fn on_drain(&self, _now: SystemTime, _vm: &mut VmState, _effects: &mut Vec<Effect>) -> Vec<Callout> {
        Vec::new()
    }
    /// Answer to a callout made from [`Stage::on_tick`] or [`Stage::on_drain`].
    fn on_background_response(
        &self,
        _now: SystemTime,
        _vm: &mut VmState,
        _response: &CalloutResponse,
        _effects: &mut Vec<Effect>,
    ) {
    }
}
