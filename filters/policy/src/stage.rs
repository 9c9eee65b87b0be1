//! The policy stage: decide in the headers phase when no body rule can match, otherwise buffer
//! the body and decide before a single body byte reaches the upstream; publish the decision
//! as `warden.decision`; refuse denied requests (403 JSON, or a JSON-RPC answer for MCP).

use crate::compile::Policy;
use crate::config::McpDenial;
use crate::decide::{decide_body, decide_headers, Decision, Early};
use crate::request::Request;
use serde_json::{json, Value};
use std::time::UNIX_EPOCH;
use warden_kit::facts::{self, IdentityFact, Verdict};
use warden_kit::{BodyNeed, Cx, Effect, FactRead, FailureMode, Flow, LocalReply, MetricKind, Needs, Stage};

impl Policy {
    fn request<'a>(&'a self, cx: &'a Cx<'_>, identity: Option<&'a IdentityFact>) -> Request<'a> {
        let now = cx.now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let source = if self.reads_source {
            cx.request.property(&["source", "address"]).map(|b| String::from_utf8_lossy(&b).into_owned())
        } else {
            None
        };
        Request::new(cx.request.headers(), source.as_deref(), identity, now).for_policy(self)
    }

    /// Publishes `decision` and says what happens to the request.
    fn act(&self, cx: &mut Cx<'_>, decision: Decision, body: Option<&[u8]>) -> Flow {
        let metric = match decision.fact.effect {
            Verdict::Allow => "warden_policy_allowed_total",
            Verdict::Deny => "warden_policy_denied_total",
            Verdict::RequireApproval => "warden_policy_approval_required_total",
        };
        cx.effects.push(Effect::Metric { name: metric, kind: MetricKind::Counter, value: 1 });
        if !decision.fact.dry_run.is_empty() {
            cx.effects.push(Effect::Metric {
                name: "warden_policy_dry_run_matches_total",
                kind: MetricKind::Counter,
                value: decision.fact.dry_run.len() as i64,
            });
        }
        let request_id = cx.facts.request_id().unwrap_or_default().to_string();
        let flow = match decision.fact.effect {
            Verdict::Allow => Flow::Continue,
            // Only a later stage of this chain that enforces approvals may take it from here
            // (without one the chain would refuse it anyway).
            Verdict::RequireApproval if cx.approval_follows => Flow::Continue,
            Verdict::RequireApproval => Flow::Respond(self.refusal(
                &decision,
                "approval_unavailable",
                "this request needs a human's approval, and no approval stage follows in this chain",
                &request_id,
                body,
            )),
            Verdict::Deny if decision.ambiguous_path.is_some() => {
                let body = json!({"error": "ambiguous_path", "message": decision.message, "request_id": request_id});
                Flow::Respond(
                    LocalReply::new(400, body.to_string())
                        .with_header("content-type", "application/json")
                        .with_details("warden_policy_ambiguous_path"),
                )
            }
            Verdict::Deny => {
                Flow::Respond(self.refusal(&decision, "denied_by_policy", &decision.message, &request_id, body))
            }
        };
        cx.facts.write(facts::DECISION, &decision.fact);
        flow
    }

    /// 403 JSON, or for an MCP request a JSON-RPC answer the agent can read.
    fn refusal(
        &self,
        decision: &Decision,
        code: &str,
        message: &str,
        request_id: &str,
        body: Option<&[u8]>,
    ) -> LocalReply {
        let rules = &decision.fact.rules;
        if let Some(reply) = body.and_then(|b| self.mcp_refusal(b, code, message, rules, request_id)) {
            return reply;
        }
        let body = json!({"error": code, "message": message, "rules": rules, "request_id": request_id});
        LocalReply::new(403, body.to_string())
            .with_header("content-type", "application/json")
            .with_details("warden_policy_denied")
    }

    /// The JSON-RPC answer to a refused MCP request (HTTP 200: MCP clients read JSON-RPC
    /// bodies of successful responses only). Keeps each call's id; notifications get none.
    fn mcp_refusal(
        &self,
        body: &[u8],
        code: &str,
        message: &str,
        rules: &[String],
        request_id: &str,
    ) -> Option<LocalReply> {
        let parsed: Value = serde_json::from_slice(body).ok()?;
        let (calls, batch) = crate::mcp::calls(&parsed)?;
        let answers: Vec<Value> = calls
            .iter()
            .filter_map(|call| call.id.clone())
            .map(|id| match self.mcp_denial {
                McpDenial::JsonrpcError => json!({"jsonrpc": "2.0", "id": id, "error": {
                    "code": -32001, "message": format!("{message} ({code})"),
                    "data": {"code": code, "rules": rules, "request_id": request_id}}}),
                McpDenial::ToolResult => json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": format!("Refused by policy: {message} (rules: {}; request {request_id})", rules.join(", "))}],
                    "isError": true}}),
            })
            .collect();
        let body = match (batch, answers.len()) {
            (_, 0) => return None,
            (false, _) => answers.into_iter().next()?,
            (true, _) => Value::Array(answers),
        };
        Some(
            LocalReply::new(200, body.to_string())
                .with_header("content-type", "application/json")
                .with_details("warden_policy_denied"),
        )
    }
}

/// Facts read from filter state when the stage runs as its own filter.
const READS_FACTS: [&str; 1] = [facts::IDENTITY.name()];

impl Stage for Policy {
    fn name(&self) -> &'static str {
        <Self as warden_kit::StageKind>::NAME
    }

    /// The longest hold a rule asks for must fit the approval stage's ceiling.
    fn contract(&self) -> warden_kit::contract::Contract {
        warden_kit::contract::Contract { longest_hold: self.longest_hold.clone(), ..Default::default() }
    }

    fn needs(&self) -> Needs {
        Needs {
            request_body: if self.reads_bodies { BodyNeed::Inspect } else { BodyNeed::None },
            response_body: if self.filters_tools_list { BodyNeed::Rewrite } else { BodyNeed::None },
            reads_facts: &READS_FACTS,
            max_body_bytes: self.reads_bodies.then_some(self.max_body_bytes),
            ..Needs::default()
        }
    }

    fn failure_mode(&self) -> FailureMode {
        self.failure_mode
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        // An identity fact this build cannot read (another module's version) is not "no
        // identity": deciding as if the caller were anonymous could let it through.
        let identity: Option<IdentityFact> = match cx.facts.get(facts::IDENTITY) {
            FactRead::Present(identity) => Some(identity),
            FactRead::Absent => None,
            FactRead::Unreadable(why) => {
                cx.effects.push(Effect::Log {
                    level: warden_kit::LogLevel::Error,
                    message: format!("warden policy: the identity fact is unreadable ({why}): refused"),
                });
                let body = serde_json::json!({"error": "identity_fact_unreadable"});
                return Flow::Respond(LocalReply::new(500, body.to_string()));
            }
        };
        let early = {
            let request = self.request(cx, identity.as_ref());
            decide_headers(self, &request)
        };
        let announced = cx.request.header("content-length").and_then(|n| n.trim().parse::<u64>().ok());
        let too_large = announced.is_some_and(|n| n > self.max_body_bytes as u64);
        match early {
            // A body over the limit with `failure_mode: open` would pass uninspected: decide
            // it now as unreadable (rules that read it and deny or need approval match).
            Early::NeedBody if too_large && self.failure_mode == FailureMode::Open => {
                let decision = {
                    let mut request = self.request(cx, identity.as_ref());
                    request.body_too_large = true;
                    decide_body(self, &request, &[])
                };
                cx.effects.push(Effect::SkipRequestBody);
                if self.filters_tools_list {
                    cx.effects.push(Effect::SkipResponseBody);
                }
                self.act(cx, decision, None)
            }
            // `tools/list` is always a POST: anything else (such as MCP's GET event stream) is
            // never held back.
            Early::NeedBody => {
                if self.filters_tools_list && cx.request.header(":method") != Some("POST") {
                    cx.effects.push(Effect::SkipResponseBody);
                }
                Flow::Continue
            }
            Early::Decided(decision) => {
                if self.reads_bodies {
                    cx.effects.push(Effect::SkipRequestBody);
                }
                if self.filters_tools_list {
                    cx.effects.push(Effect::SkipResponseBody);
                }
                self.act(cx, *decision, None)
            }
        }
    }

    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        let identity: Option<IdentityFact> = cx.facts.read(facts::IDENTITY);
        let body = cx.request.body().unwrap_or_default().to_vec();
        let (decision, lists_tools) = {
            let request = self.request(cx, identity.as_ref());
            let lists_tools = matches!(request.with_body(&body).mcp_calls(),
                Some((calls, false)) if calls.first().is_some_and(|c| c.method == "tools/list"));
            (decide_body(self, &request, &body), lists_tools)
        };
        if self.filters_tools_list && !(lists_tools && decision.fact.effect == Verdict::Allow) {
            cx.effects.push(Effect::SkipResponseBody);
        }
        self.act(cx, decision, Some(&body))
    }

    /// Only for `tools/list` requests (every other request declined its response body).
    fn on_response_body(&self, cx: &mut Cx<'_>) -> Flow {
        let identity: Option<IdentityFact> = cx.facts.read(facts::IDENTITY);
        let event_stream =
            cx.request.response_header("content-type").is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        let filtered = {
            let request = self.request(cx, identity.as_ref());
            let may_call = |tool: &str| crate::tools_list::may_call(self, &request, tool);
            crate::tools_list::filter(cx.request.body().unwrap_or_default(), event_stream, &may_call)
        };
        if let Some((body, hidden)) = filtered {
            if hidden > 0 {
                cx.effects.push(Effect::ReplaceBody(body));
                cx.effects.push(Effect::Metric {
                    name: "warden_policy_tools_hidden_total",
                    kind: MetricKind::Counter,
                    value: hidden as i64,
                });
            }
        }
        Flow::Continue
    }
}
