//! [`warden_kit::Host`] over proxy-wasm hostcalls.

use crate::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel as SdkLevel, MapType, MetricType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_kit::{Callout, HeaderMap, Host, KitError, LocalReply, LogLevel, MetricKind};

/// Metric ids by name, defined once per VM.
pub type MetricIds = Rc<RefCell<HashMap<&'static str, u32>>>;

/// The host seen from one HTTP context.
pub struct ProxyHost {
    /// Shared metric ids of the VM.
    pub metrics: MetricIds,
    /// Plugin name used in log lines.
    pub plugin: &'static str,
}

fn map(map: HeaderMap) -> MapType {
    match map {
        HeaderMap::Request => MapType::HttpRequestHeaders,
        HeaderMap::Response => MapType::HttpResponseHeaders,
    }
}

/// Logs through the SDK (proxy_log never fails in Envoy; a failure is ignored).
pub fn log(level: LogLevel, message: &str) {
    let level = match level {
        LogLevel::Debug => SdkLevel::Debug,
        LogLevel::Info => SdkLevel::Info,
        LogLevel::Warn => SdkLevel::Warn,
        LogLevel::Error => SdkLevel::Error,
    };
    let _ = proxy_wasm::hostcalls::log(level, message);
}

impl Host for ProxyHost {
    fn request_headers(&mut self) -> Vec<(String, String)> {
        hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    fn response_headers(&mut self) -> Vec<(String, String)> {
        hostcalls::get_map(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path).ok().flatten()
    }

    fn body(&mut self, response: bool) -> Vec<u8> {
        let kind = if response { BufferType::HttpResponseBody } else { BufferType::HttpRequestBody };
        hostcalls::get_buffer(kind, 0, usize::MAX).unwrap_or_default()
    }

    fn set_header(&mut self, which: HeaderMap, name: &str, value: Option<&str>) -> Result<(), KitError> {
        hostcalls::set_map_value(map(which), name, value).map_err(|_| KitError::Host { operation: "changing a header" })
    }

    fn replace_body(&mut self, response: bool, body: &[u8]) -> Result<(), KitError> {
        let kind = if response { BufferType::HttpResponseBody } else { BufferType::HttpRequestBody };
        let current = hostcalls::get_buffer(kind, 0, usize::MAX).map(|b| b.len()).unwrap_or(usize::MAX);
        hostcalls::set_buffer(kind, 0, current, body).map_err(|_| KitError::Host { operation: "replacing the body" })
    }

    fn filter_state(&mut self, key: &str) -> Option<Vec<u8>> {
        hostcalls::get_property(&[key]).ok().flatten()
    }

    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), KitError> {
        hostcalls::set_property(&[key], value).map_err(|_| KitError::Host { operation: "writing filter state" })
    }

    fn dispatch(&mut self, callout: &Callout) -> Result<u32, KitError> {
        let mut headers: Vec<(&str, &str)> =
            vec![(":method", &callout.method), (":path", &callout.path), (":authority", &callout.authority)];
        headers.extend(callout.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = (!callout.body.is_empty()).then_some(callout.body.as_slice());
        proxy_wasm::hostcalls::dispatch_http_call(&callout.cluster, headers, body, vec![], callout.timeout)
            .map_err(|_| KitError::CalloutRejected { cluster: callout.cluster.clone() })
    }

    fn send_local_reply(&mut self, reply: &LocalReply) {
        let headers: Vec<(&str, &str)> = reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if hostcalls::send_local_response(u32::from(reply.status), &reply.details, reply.body.as_bytes(), &headers)
            .is_err()
        {
            log(LogLevel::Error, &format!("{}: the proxy refused a local reply ({})", self.plugin, reply.status));
        }
    }

    fn resume(&mut self, response: bool) {
        if hostcalls::resume(response).is_err() {
            log(LogLevel::Error, &format!("{}: the proxy refused to resume the stream", self.plugin));
        }
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        log(level, message);
    }

    fn metric(&mut self, name: &'static str, kind: MetricKind, value: i64) {
        let id = {
            let known = self.metrics.borrow().get(name).copied();
            match known {
                Some(id) => id,
                None => {
                    let sdk_kind = match kind {
                        MetricKind::Counter => MetricType::Counter,
                        MetricKind::Gauge => MetricType::Gauge,
                        MetricKind::Histogram => MetricType::Histogram,
                    };
                    let Ok(id) = hostcalls::define_metric(sdk_kind, name) else { return };
                    self.metrics.borrow_mut().insert(name, id);
                    id
                }
            }
        };
        let _ = match kind {
            MetricKind::Counter => hostcalls::increment_metric(id, value),
            MetricKind::Gauge | MetricKind::Histogram => hostcalls::record_metric(id, value.max(0) as u64),
        };
    }

    fn now(&self) -> SystemTime {
        proxy_wasm::hostcalls::get_current_time().unwrap_or(UNIX_EPOCH + Duration::ZERO)
    }
}
