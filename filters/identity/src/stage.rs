//! The identity stage: strip, decide what the route needs, verify, publish.

use crate::compile::Identity;
use crate::config::Requirement;
use crate::sources::{self, Refusal, Verified};
use std::time::UNIX_EPOCH;
use warden_kit::facts::{self, SubjectKind};
use warden_kit::{Cx, Effect, FailureMode, Flow, HeaderMap, LocalReply, LogLevel, MetricKind, Needs, Stage};

fn kind_name(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Human => "human",
        SubjectKind::Agent => "agent",
        SubjectKind::Service => "service",
    }
}

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
    fn publish(&self, cx: &mut Cx<'_>, verified: Verified) {
        let fact = &verified.fact;
        let h = &self.headers;
        let mut set = |name: &Option<String>, value: String| {
            if let Some(name) = name {
                cx.effects.push(Effect::SetHeader { map: HeaderMap::Request, name: name.clone(), value });
            }
        };
        set(&h.subject, fact.subject.clone());
        set(&h.kind, kind_name(fact.kind).to_string());
        if let Some(actor) = fact.actors.last() {
            set(&h.actor, actor.subject.clone());
        }
        if !fact.groups.is_empty() {
            set(&h.groups, fact.groups.join(","));
        }
        if let Some(header) = verified.remove_header {
            cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: header });
        }
        cx.effects.push(Effect::Metric { name: "warden_identity_verified_total", kind: MetricKind::Counter, value: 1 });
        cx.facts.put(facts::IDENTITY, fact);
    }
}

impl Stage for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn failure_mode(&self) -> FailureMode {
        self.failure_mode
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        // Incoming copies of identity headers never reach the upstream, whatever happens next.
        for name in self.identity_header_names() {
            if cx.request.header(name).is_some() {
                cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name: name.to_string() });
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
        let hits_before = self.cache.borrow().hits();
        let found = sources::jwt(self, cx.request, now, &mut self.cache.borrow_mut())
            .or_else(|| sources::api_key(self, cx.request))
            .or_else(|| sources::spiffe(self, cx.request));
        match found {
            Some(Ok(verified)) => {
                if self.cache.borrow().hits() > hits_before {
                    cx.effects.push(Effect::Metric {
                        name: "warden_identity_cache_hits_total",
                        kind: MetricKind::Counter,
                        value: 1,
                    });
                }
                self.publish(cx, verified);
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
