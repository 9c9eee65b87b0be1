//! What a stage asks the proxy to do, as data.

use serde::Serialize;
use std::time::Duration;

/// Which header map an effect changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMap {
    /// Request headers (only in the request headers phase).
    Request,
    /// Response headers (only in the response headers phase).
    Response,
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Verbose diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something unusual, handled.
    Warn,
    /// A failure.
    Error,
}

/// Metric kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic counter: `value` is added.
    Counter,
    /// Gauge: `value` is the new value.
    Gauge,
    /// Histogram: `value` is one sample.
    Histogram,
}

/// A change a stage asks for. Effects are applied in order after the stage returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// From the request headers phase: this stage does not need this request's body (no rule
    /// that reads bodies can match it). When no stage of the chain still needs the body, it
    /// streams to the upstream without being buffered.
    SkipRequestBody,
    /// From a request phase: this stage does not need this request's response body. When no
    /// stage still needs it, the response streams to the client without being buffered (and
    /// keeps its `content-length`).
    SkipResponseBody,
    /// From the request headers phase: this stage takes this request's body chunk by chunk as
    /// it arrives ([`crate::Stage::on_request_chunk`]) instead of whole. When every stage that
    /// still wants the body asked for chunks, the body streams (each chunk is handed on as soon
    /// as the stages return); otherwise it is buffered and the stage gets it as one last chunk.
    StreamRequestBody,
    /// From a phase before the response body: as [`Effect::StreamRequestBody`], for the
    /// response body ([`crate::Stage::on_response_chunk`]).
    StreamResponseBody,
    /// Set (replace) a header.
    SetHeader {
        /// Map to change.
        map: HeaderMap,
        /// Lowercase name.
        name: String,
        /// New value.
        value: String,
    },
    /// Remove every value of a header.
    RemoveHeader {
        /// Map to change.
        map: HeaderMap,
        /// Lowercase name.
        name: String,
    },
    /// Replace the buffered body of the current body phase (in a chunk callback: the chunk).
    ReplaceBody(Vec<u8>),
    /// Record a metric (names are prefixed `warden_` by convention; see each filter's README).
    Metric {
        /// Metric name (documented in the filter's README).
        name: &'static str,
        /// Counter, gauge or histogram: what `value` means.
        kind: MetricKind,
        /// Increment, new value or sample.
        value: i64,
    },
    /// Write a log line. Never put secrets (tokens, credentials, masked values) here.
    Log {
        /// How severe: Envoy's log level the line is written at.
        level: LogLevel,
        /// The line, starting with the filter's name (`warden policy: ...`).
        message: String,
    },
}

/// A response the proxy sends instead of forwarding (deny, challenge, error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status.
    pub status: u16,
    /// Body (plain text or JSON).
    pub body: String,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Envoy response code details (shows in access logs as `%RESPONSE_CODE_DETAILS%`).
    pub details: String,
}

impl LocalReply {
    /// A reply with `status` and a plain-text `body`; details `warden`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        LocalReply { status, body: body.into(), headers: Vec::new(), details: "warden".into() }
    }

    /// The same reply with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same reply with response code details (lowercase, `_`-separated, no spaces).
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }
}

/// An HTTP call to an Envoy cluster. The stage that asked is called back with the
/// [`CalloutResponse`] (with `tag` to tell its callouts apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    /// Envoy cluster name.
    pub cluster: String,
    /// HTTP method of the callout (`GET`, `POST`).
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Authority (Host).
    pub authority: String,
    /// Headers besides the pseudo-headers (e.g. `authorization`, `content-type`).
    pub headers: Vec<(String, String)>,
    /// Request body (empty: none).
    pub body: Vec<u8>,
    /// Timeout; when it passes the response is a synthetic 504.
    pub timeout: Duration,
    /// Caller's label, handed back in the response.
    pub tag: String,
}

/// The answer to a [`Callout`]. Transport failures arrive as synthetic statuses, as Envoy
/// delivers them: 503 (cluster down, or the callout could not be dispatched), 504 (timeout).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalloutResponse {
    /// HTTP status (`:status`).
    pub status: u16,
    /// Headers without `:status`.
    pub headers: Vec<(String, String)>,
    /// Response body (empty for synthetic statuses).
    pub body: Vec<u8>,
    /// The callout's tag.
    pub tag: String,
}

impl CalloutResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Value of a response header (lowercase name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}
