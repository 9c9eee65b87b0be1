//! The port a [`crate::Chain`] drives: what it needs from a proxy, nothing more.

use crate::effect::{Callout, HeaderMap, LocalReply, LogLevel, MetricKind};
use crate::error::KitError;
use std::time::SystemTime;

/// The proxy as a chain sees it. `warden-kit-proxywasm` implements it over proxy-wasm (with
/// hostcalls that cannot panic); [`crate::testing::FakeHost`] implements it in memory.
pub trait Host {
    /// Request headers of the current request headers phase (one fetch per phase).
    fn request_headers(&mut self) -> Vec<(String, String)>;
    /// Response headers of the current response headers phase.
    fn response_headers(&mut self) -> Vec<(String, String)>;
    /// An Envoy attribute's raw bytes.
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>>;
    /// The buffered body of the current body phase.
    fn body(&mut self, response: bool) -> Vec<u8>;
    /// Sets (`Some`) or removes (`None`) a header in a map the current phase may change.
    fn set_header(&mut self, map: HeaderMap, name: &str, value: Option<&str>) -> Result<(), KitError>;
    /// Replaces the buffered body of the current body phase.
    fn replace_body(&mut self, response: bool, body: &[u8]) -> Result<(), KitError>;
    /// Reads filter state written by another filter.
    fn filter_state(&mut self, key: &str) -> Option<Vec<u8>>;
    /// Writes filter state.
    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), KitError>;
    /// Dispatches a callout; returns its token.
    fn dispatch(&mut self, callout: &Callout) -> Result<u32, KitError>;
    /// Answers the client (the stream pauses; later callbacks are response callbacks).
    fn send_local_reply(&mut self, reply: &LocalReply);
    /// Resumes a paused stream.
    fn resume(&mut self, response: bool);
    /// Writes a log line.
    fn log(&mut self, level: LogLevel, message: &str);
    /// Records a metric.
    fn metric(&mut self, name: &'static str, kind: MetricKind, value: i64);
    /// Current time.
    fn now(&self) -> SystemTime;
}
