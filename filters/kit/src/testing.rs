//! An in-memory [`Host`] for native tests of stages and chains.

use crate::effect::{Callout, HeaderMap, LocalReply, LogLevel, MetricKind};
use crate::error::KitError;
use crate::facts::FactKey;
use crate::host::Host;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A proxy in memory: set the request, run a chain, then inspect what happened.
#[derive(Debug, Clone)]
pub struct FakeHost {
    /// Request headers (lowercase names, pseudo-headers included).
    pub request_headers: Vec<(String, String)>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Request body buffer.
    pub request_body: Vec<u8>,
    /// Response body buffer.
    pub response_body: Vec<u8>,
    /// Attributes by dotted path (`source.address`).
    pub properties: BTreeMap<String, Vec<u8>>,
    /// Filter state by key.
    pub filter_state: BTreeMap<String, Vec<u8>>,
    /// Callouts dispatched, in order (token = index + 1).
    pub callouts: Vec<Callout>,
    /// Clusters that exist; a callout elsewhere is refused.
    pub clusters: Vec<String>,
    /// The local reply sent, if any.
    pub local_reply: Option<LocalReply>,
    /// Resumes: `false` request, `true` response.
    pub resumed: Vec<bool>,
    /// Log lines.
    pub logs: Vec<(LogLevel, String)>,
    /// Metrics: counters summed, gauges last value, histograms last sample.
    pub metrics: BTreeMap<&'static str, i64>,
    /// The clock.
    pub now: SystemTime,
    /// Refuse every header change (as Envoy does once a header map is gone).
    pub refuse_header_changes: bool,
    /// Header changes asked of the host (each one a hostcall in a proxy).
    pub header_calls: usize,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            request_body: Vec::new(),
            response_body: Vec::new(),
            properties: BTreeMap::new(),
            filter_state: BTreeMap::new(),
            callouts: Vec::new(),
            clusters: Vec::new(),
            local_reply: None,
            resumed: Vec::new(),
            logs: Vec::new(),
            metrics: BTreeMap::new(),
            now: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            refuse_header_changes: false,
            header_calls: 0,
        }
    }
}

impl FakeHost {
    /// A host with these request headers.
    pub fn with_request(headers: &[(&str, &str)]) -> Self {
        FakeHost {
            request_headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect(),
            ..FakeHost::default()
        }
    }

    /// The fact exported to filter state under `key`, if any and of the key's shape.
    pub fn fact<T: for<'de> serde::Deserialize<'de>>(&self, key: FactKey<T>) -> Option<T> {
        serde_json::from_slice(self.filter_state.get(key.name())?).ok()
    }

    /// Value of a request header now.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    headers.retain(|(k, _)| k != name);
    if let Some(value) = value {
        headers.push((name.to_string(), value.to_string()));
    }
}

impl Host for FakeHost {
    fn request_headers(&mut self) -> Vec<(String, String)> {
        self.request_headers.clone()
    }
    fn response_headers(&mut self) -> Vec<(String, String)> {
        self.response_headers.clone()
    }
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        self.properties.get(&path.join(".")).cloned()
    }
    fn body(&mut self, response: bool) -> Vec<u8> {
        if response {
            self.response_body.clone()
        } else {
            self.request_body.clone()
        }
    }
    fn set_header(&mut self, map: HeaderMap, name: &str, value: Option<&str>) -> Result<(), KitError> {
        self.header_calls += 1;
        if self.refuse_header_changes {
            return Err(KitError::Host { operation: "changing a header" });
        }
        match map {
            HeaderMap::Request => set(&mut self.request_headers, name, value),
            HeaderMap::Response => set(&mut self.response_headers, name, value),
        }
        Ok(())
    }
    fn replace_body(&mut self, response: bool, body: &[u8]) -> Result<(), KitError> {
        if response {
            self.response_body = body.to_vec();
        } else {
            self.request_body = body.to_vec();
        }
        Ok(())
    }
    fn filter_state(&mut self, key: &str) -> Option<Vec<u8>> {
        self.filter_state.get(key).cloned()
    }
    fn set_filter_state(&mut self, key: &str, value: &[u8]) -> Result<(), KitError> {
        self.filter_state.insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn dispatch(&mut self, callout: &Callout) -> Result<u32, KitError> {
        if !self.clusters.contains(&callout.cluster) {
            return Err(KitError::CalloutRejected { cluster: callout.cluster.clone() });
        }
        self.callouts.push(callout.clone());
        Ok(self.callouts.len() as u32)
    }
    fn send_local_reply(&mut self, reply: &LocalReply) {
        self.local_reply = Some(reply.clone());
    }
    fn resume(&mut self, response: bool) {
        self.resumed.push(response);
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_string()));
    }
    fn metric(&mut self, name: &'static str, kind: MetricKind, value: i64) {
        let entry = self.metrics.entry(name).or_insert(0);
        match kind {
            MetricKind::Counter => *entry += value,
            MetricKind::Gauge | MetricKind::Histogram => *entry = value,
        }
    }
    fn now(&self) -> SystemTime {
        self.now
    }
}
