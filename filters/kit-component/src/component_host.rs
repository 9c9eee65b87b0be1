//! [`warden_kit::Host`] over `wasi:http`: the headers and body of the exchange being served
//! (held by the driver), callouts as outgoing requests, logs and metrics on stderr.

use crate::bindings::wasi::clocks::wall_clock;
use crate::exchange::Exchange;
use crate::settings::Settings;
use crate::wire::{self, Sending};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_kit::{Callout, CalloutResponse, HeaderMap, Host, KitError, LocalReply, LogLevel, MetricKind};

/// A callout in flight.
struct Pending {
    sending: Sending,
    timeout: Duration,
}

/// The host as the chain of one exchange sees it.
pub struct ComponentHost<'a> {
    settings: &'a Settings,
    plugin: &'static str,
    /// Attributes of the exchange (properties).
    pub exchange: Exchange,
    /// Request headers, pseudo-headers first (`:method`, `:path`, `:authority`, `:scheme`).
    pub request: Vec<(String, String)>,
    /// Response headers, `:status` first.
    pub response: Vec<(String, String)>,
    /// The request body held so far (what the chain has not let go yet).
    pub request_body: Vec<u8>,
    /// The response body held so far.
    pub response_body: Vec<u8>,
    /// Filter state (facts exported by the chain), for this exchange.
    state: BTreeMap<String, Vec<u8>>,
    pending: BTreeMap<u32, Pending>,
    next_token: u32,
    /// The local reply a stage asked for, not sent yet.
    pub reply: Option<LocalReply>,
    /// Whether the chain resumed a paused phase since the flag was cleared.
    pub resumed: bool,
}

impl<'a> ComponentHost<'a> {
    /// A host for one exchange.
    pub fn new(settings: &'a Settings, plugin: &'static str, exchange: Exchange) -> Self {
        ComponentHost {
            settings,
            plugin,
            exchange,
            request: Vec::new(),
            response: Vec::new(),
            request_body: Vec::new(),
            response_body: Vec::new(),
            state: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_token: 1,
            reply: None,
            resumed: false,
        }
    }

    /// The oldest callout still in flight.
    pub fn waiting_for(&self) -> Option<u32> {
        self.pending.keys().next().copied()
    }

    /// The facts exported so far (filter state keys to their JSON text), for the access log.
    pub fn exported(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.state
    }

    /// Waits for callout `token`'s answer: transport failures as Envoy reports them (503;
    /// 504 when its timeout passes).
    pub fn answer(&mut self, token: u32) -> CalloutResponse {
        let Some(mut pending) = self.pending.remove(&token) else {
            return CalloutResponse { status: 503, ..CalloutResponse::default() };
        };
        let failed = |error: &crate::bindings::wasi::http::types::ErrorCode| CalloutResponse {
            status: if wire::is_timeout(error) { 504 } else { 503 },
            ..CalloutResponse::default()
        };
        if let Err(error) = pending.sending.finish() {
            return failed(&error);
        }
        let response = match pending.sending.response(Some(pending.timeout)) {
            Ok(response) => response,
            Err(error) => {
                self.log(LogLevel::Debug, &format!("{}: callout failed: {error:?}", self.plugin));

                return failed(&error);
            }
        };
        let status = response.status();
        let headers = wire::header_list(&response.headers());
        match wire::read_body(response, warden_kit::limits::MAX_BODY_BYTES) {
            Ok(body) => CalloutResponse { status, headers, body, tag: String::new() },
            Err(error) => failed(&error),
        }
    }
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(value) = value {
        headers.push((name.to_string(), value.to_string()));
    }
}

impl Host for ComponentHost<'_> {
    fn request_headers(&mut self) -> Vec<(String, String)> {
        self.request.clone()
    }

    fn response_headers(&mut self) -> Vec<(String, String)> {
        self.response.clone()
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        self.exchange.property(path, self.now())
    }

    fn body(&mut self, response: bool) -> Vec<u8> {
        if response {
            self.response_body.clone()
        } else {
            self.request_body.clone()
        }
    }

    fn set_header(&mut self, map: HeaderMap, name: &str, value: Option<&str>) -> Result<(), KitError> {
        match map {
            HeaderMap::Request => set(&mut self.request, name, value),
            HeaderMap::Response => set(&mut self.response, name, value),
        }
        Ok(())
    }

    fn replace_body(&mut self, response: bool, body: &[u8]) -> Result<(), KitError> {
        let held = if response { &mut self.response_body } else { &mut self.request_body };
        *held = body.to_vec();
        Ok(())
    }

    fn filter_state(&mut self, key: &str) -> Option<Vec<u8>> {
        self.state.get(key).cloned()
    }

    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), KitError> {
        self.state.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn dispatch(&mut self, callout: &Callout) -> Result<u32, KitError> {
        let rejected = || KitError::CalloutRejected { cluster: callout.cluster.clone() };
        let endpoint = self.settings.clusters.get(&callout.cluster).ok_or_else(rejected)?;
        let mut sending = wire::send(endpoint, &callout.method, &callout.path, &callout.headers, Some(callout.timeout))
            .map_err(|_| rejected())?;
        if !callout.body.is_empty() {
            sending.write(&callout.body).map_err(|_| rejected())?;
        }
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(1);
        self.pending.insert(token, Pending { sending, timeout: callout.timeout });
        Ok(token)
    }

    fn send_local_reply(&mut self, reply: &LocalReply) {
        self.reply = Some(reply.clone());
    }

    fn resume(&mut self, _response: bool) {
        self.resumed = true;
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
            LogLevel::Error => "error",
        };
        wire::stderr_line(&format!("[{level}] {message}"));
    }

    fn metric(&mut self, name: &'static str, kind: MetricKind, value: i64) {
        if !self.settings.metrics {
            return;
        }
        let kind = match kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        };
        wire::stderr_line(&format!("[metric] {kind} {name} {value}"));
    }

    fn now(&self) -> SystemTime {
        let now = wall_clock::now();
        UNIX_EPOCH + Duration::new(now.seconds, now.nanoseconds)
    }
}
