//! HTTP context: forwards each callback to the request's [`ChainRun`].

use crate::hostcalls;
use crate::proxy_host::{MetricIds, ProxyHost};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};
use warden_kit::{CalloutResponse, ChainRun, Step};

/// One request through the chain.
pub struct WardenHttp {
    run: ChainRun,
    host: ProxyHost,
}

impl WardenHttp {
    /// A context for a new request.
    pub fn new(run: ChainRun, metrics: MetricIds, plugin: &'static str) -> Self {
        WardenHttp { run, host: ProxyHost { metrics, plugin } }
    }
}

fn action(step: Step) -> Action {
    match step {
        Step::Continue => Action::Continue,
        Step::Pause => Action::Pause,
    }
}

impl Context for WardenHttp {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        let mut headers = hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default();
        let status = headers.iter().find(|(k, _)| k == ":status").and_then(|(_, v)| v.parse().ok()).unwrap_or(503);
        headers.retain(|(k, _)| !k.starts_with(':'));
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size).unwrap_or_default();
        let response = CalloutResponse { status, headers, body, tag: String::new() };
        self.run.on_callout_response(&mut self.host, token, response);
    }
}

impl HttpContext for WardenHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.run.on_request_headers(&mut self.host, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.run.on_request_body(&mut self.host, body_size, end_of_stream))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.run.on_response_headers(&mut self.host, end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.run.on_response_body(&mut self.host, body_size, end_of_stream))
    }

    fn on_log(&mut self) {
        self.run.on_log(&mut self.host);
    }
}
