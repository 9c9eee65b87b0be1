//! The identity stage: strip, decide what the route needs, verify, publish.

use crate::compile::Identity;
use crate::compile::Remote;
use crate::config::Requirement;
use crate::sources::{self, JwtOutcome, Refusal};
use crate::verified::Verified;
use crate::vm::IdentityVm;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_kit::facts;
use warden_kit::{Callout, CalloutResponse, VmState};
use warden_kit::{Cx, Effect, FailureMode, Flow, HeaderMap, LocalReply, LogLevel, MetricKind, Needs, Stage};

/// 401 with an RFC 6750 challenge and a JSON body; nothing from the credential is echoed.
fn unauthorized(cx: &Cx<'_>, refusal: Option<&Refusal>) -> LocalReply {
    let request_id = cx.facts.request_id().unwrap_or_default().to_string();
    let (challenge, body) = match refusal {
        Some(r) => (
            format!("Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"{}\"", r.reason),
            serde_json::json!({"error": "invalid_token", "error_description": r.reason, "request_id": request_id}),
        ),
        None => (
            "Bearer realm=\"warden\"".to_string(),
            serde_json::json!({"error": "unauthorized", "error_description": "credentials required", "request_id": request_id}),
        ),
    };
    LocalReply::new(401, body.to_string())
        .with_header("www-authenticate", challenge)
        .with_header("content-type", "application/json")
        .with_details("warden_identity_unauthorized")
}

impl Identity {
    fn publish(&self, cx: &mut Cx<'_>, verified: &Verified) {
        for (name, value) in &verified.upstream_headers {
            cx.effects.push(Effect::SetHeader { map: HeaderMap::Request, name: name.clone(), value: value.clone() });
        }
        if let Some(header) = &verified.remove_header {
            cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: header.clone() });
        }
        match &verified.encoded {
            Some(encoded) => cx.facts.write_encoded(facts::IDENTITY, encoded),
            None => cx.facts.write(facts::IDENTITY, &verified.fact),
        }
    }
}

/// Callout tag of a key set fetch for provider `index`.
fn jwks_tag(index: usize) -> String {
    format!("jwks:{index}")
}

impl Identity {
    fn fetch_keys(&self, cx: &mut Cx<'_>, index: usize, now: u64) -> Flow {
        let Some(Remote { cluster, authority, path, timeout_ms, .. }) = self.providers[index].remote.clone() else {
            return Flow::Continue;
        };
        if let Some(fetched) = cx.vm.get_mut::<IdentityVm>().and_then(|vm| vm.fetched.get_mut(index)) {
            fetched.attempted_at = now;
        }
        cx.effects.push(Effect::Metric {
            name: "warden_identity_jwks_fetches_total",
            kind: MetricKind::Counter,
            value: 1,
        });
        Flow::Callout(Callout {
            cluster,
            method: "GET".into(),
            path,
            authority,
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
            timeout: Duration::from_millis(timeout_ms),
            tag: jwks_tag(index),
        })
    }

    fn keys_unavailable(&self, cx: &mut Cx<'_>) -> Flow {
        cx.effects
            .push(Effect::Log { level: LogLevel::Warn, message: "warden_identity: no signing keys available".into() });
        match self.failure_mode {
            FailureMode::Open => Flow::Continue,
            FailureMode::Closed => {
                let request_id = cx.facts.request_id().unwrap_or_default().to_string();
                let body = serde_json::json!({"error": "temporarily_unavailable", "error_description": "signing keys unavailable", "request_id": request_id});
                Flow::Respond(
                    LocalReply::new(503, body.to_string())
                        .with_header("content-type", "application/json")
                        .with_details("warden_identity_keys_unavailable"),
                )
            }
        }
    }

    /// Stores a fetched key set, or keeps the last good one when the fetch failed.
    fn store_keys(
        &self,
        vm: &mut VmState,
        index: usize,
        response: &CalloutResponse,
        now: u64,
        effects: &mut Vec<Effect>,
    ) {
        let provider = &self.providers[index];
        let body =
            if response.is_success() { Ok(&response.body[..]) } else { Err(format!("status {}", response.status)) };
        let stored = match vm.get_mut::<IdentityVm>() {
            Some(vm) => vm.store_fetched(provider, index, body, now),
            None => Err("no per-VM state".into()),
        };
        let (level, message) = match stored {
            Ok((kept, skipped)) => (
                LogLevel::Info,
                format!("warden_identity: {}: {kept} signing keys fetched ({skipped} skipped)", provider.name),
            ),
            Err(reason) => (
                LogLevel::Warn,
                format!(
                    "warden_identity: {}: key set fetch failed ({reason}); keeping the last good set",
                    provider.name
                ),
            ),
        };
        effects.push(Effect::Log { level, message });
    }

    /// A key set fetched for a waiting request arrived: store it, then decide the request.
    fn keys_arrived(&self, cx: &mut Cx<'_>, index: usize, response: &CalloutResponse) -> Flow {
        let now = cx.now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.store_keys(cx.vm, index, response, now, cx.effects);
        self.on_request_headers(cx)
    }
}

fn secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Stage for Identity {
    fn name(&self) -> &'static str {
        <Self as warden_kit::StageKind>::NAME
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn failure_mode(&self) -> FailureMode {
        self.failure_mode
    }

    /// The token cache and fetched key sets of one VM.
    fn vm_state(&self) -> VmState {
        VmState::new(IdentityVm::new(self))
    }

    /// Fetched key sets are refreshed in the background at half their TTL.
    fn tick_period(&self) -> Option<Duration> {
        let shortest = self.providers.iter().filter_map(|p| p.remote.as_ref()).map(|r| r.ttl_secs).min()?;
        Some(Duration::from_secs((shortest / 2).max(1)))
    }

    fn on_tick(&self, now: SystemTime, vm: &mut VmState, effects: &mut Vec<Effect>) -> Vec<Callout> {
        let now = secs(now);
        let mut callouts = Vec::new();
        let Some(vm) = vm.get_mut::<IdentityVm>() else { return callouts };
        for (index, provider) in self.providers.iter().enumerate() {
            let Some(remote) = &provider.remote else { continue };
            let Some(fetched) = vm.fetched.get_mut(index) else { continue };
            let due = fetched.keys.is_empty() || now >= fetched.fetched_at + remote.ttl_secs / 2;
            if due && now > fetched.attempted_at {
                fetched.attempted_at = now;
                effects.push(Effect::Metric {
                    name: "warden_identity_jwks_fetches_total",
                    kind: MetricKind::Counter,
                    value: 1,
                });
                callouts.push(Callout {
                    cluster: remote.cluster.clone(),
                    method: "GET".into(),
                    path: remote.path.clone(),
                    authority: remote.authority.clone(),
                    headers: vec![("accept".into(), "application/json".into())],
                    body: Vec::new(),
                    timeout: Duration::from_millis(remote.timeout_ms),
                    tag: jwks_tag(index),
                });
            }
        }
        callouts
    }

    fn on_background_response(
        &self,
        now: SystemTime,
        vm: &mut VmState,
        response: &CalloutResponse,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(index) = response.tag.strip_prefix("jwks:").and_then(|i| i.parse::<usize>().ok()) {
            if index < self.providers.len() {
                self.store_keys(vm, index, response, secs(now), effects);
            }
        }
    }

    fn on_callout_response(&self, cx: &mut Cx<'_>, response: &CalloutResponse) -> Flow {
        match response.tag.strip_prefix("jwks:").and_then(|i| i.parse::<usize>().ok()) {
            Some(index) if index < self.providers.len() => self.keys_arrived(cx, index, response),
            _ => Flow::Continue,
        }
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        // Incoming copies of identity headers never reach the upstream, whatever happens next.
        for name in self.identity_header_names() {
            if cx.request.header(name).is_some() {
                cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: name.clone() });
            }
        }
        let host = cx.request.header(":authority").unwrap_or_default();
        let path = cx.request.header(":path").unwrap_or_default();
        let method = cx.request.header(":method").unwrap_or_default();
        let requirement = self.requirement(host, path, method);
        if requirement == Requirement::Anonymous {
            return Flow::Continue;
        }
        let now = cx.now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let Some(vm) = cx.vm.get_mut::<IdentityVm>() else {
            // The chain always creates this stage's state; without it nothing can be verified.
            return self.keys_unavailable(cx);
        };
        let hits_before = vm.cache.hits();
        let outcome = sources::jwt(self, cx.request, now, vm);
        let cache_hit = vm.cache.hits() > hits_before;
        let found = match outcome {
            JwtOutcome::Verified(verified) => Some(Ok(verified)),
            JwtOutcome::Refused(refusal) => Some(Err(refusal)),
            JwtOutcome::NeedKeys(index) => return self.fetch_keys(cx, index, now),
            JwtOutcome::KeysUnavailable => return self.keys_unavailable(cx),
            JwtOutcome::Absent => sources::api_key(self, cx.request).or_else(|| sources::spiffe(self, cx.request)),
        };
        match found {
            Some(Ok(verified)) => {
                // One counter per identified request: cache hits and fresh verifications apart.
                let metric =
                    if cache_hit { "warden_identity_cache_hits_total" } else { "warden_identity_verified_total" };
                cx.effects.push(Effect::Metric { name: metric, kind: MetricKind::Counter, value: 1 });
                self.publish(cx, &verified);
                Flow::Continue
            }
            Some(Err(refusal)) => {
                cx.effects.push(Effect::Metric {
                    name: "warden_identity_denied_total",
                    kind: MetricKind::Counter,
                    value: 1,
                });
                cx.effects.push(Effect::Log {
                    level: LogLevel::Info,
                    message: format!("warden_identity: refused: {}", refusal.reason),
                });
                Flow::Respond(unauthorized(cx, Some(&refusal)))
            }
            None if requirement == Requirement::Optional => Flow::Continue,
            None => {
                cx.effects.push(Effect::Metric {
                    name: "warden_identity_denied_total",
                    kind: MetricKind::Counter,
                    value: 1,
                });
                Flow::Respond(unauthorized(cx, None))
            }
        }
    }
}
