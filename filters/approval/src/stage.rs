//! The approval stage's callbacks: decide in which phase to act (the headers phase when the
//! request has no body, so the upstream is not opened; otherwise the body phase, once the
//! body it binds to is complete), then create / wait / consume through callouts.

use crate::compile::Approval;
use crate::digest::{
    digest, normalize_authority, normalize_path, sha256_hex, ActionInput, RequesterInput, ToolCallInput, DIGEST_VERSION,
};
use crate::reply::{self, McpCall, RETRY_HEADER};
use crate::service::{self, read_approval, read_consume, Answer};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use warden_kit::approval_api::{Action, ConsumeRefusal, Requester, SqlSummary, Status, VoteDecision};
use warden_kit::facts::{self, ApprovalCode, ApprovalFact, ApprovalMode, ApprovalStatus, DecisionFact, IdentityFact};
use warden_kit::receipt::{verify, Outcome, SignedReceipt};
use warden_kit::{BodyNeed, Cx, Effect, FactRead, Flow, HeaderMap, LogLevel, MetricKind, Needs, Stage};

/// Header the upstream gets with the id of the approval this request used.
pub const APPROVAL_ID_HEADER: &str = "x-warden-approval-id";

/// Facts read from filter state when the stage runs as its own filter.
const READS_FACTS: [&str; 2] = [facts::IDENTITY.name(), facts::DECISION.name()];

/// What the stage remembers about one request between callbacks.
#[derive(Debug, Default)]
struct Held {
    /// `x-warden-approval` as the caller sent it.
    retry_id: Option<String>,
    /// Bound digest.
    digest: String,
    /// Requester.
    subject: String,
    issuer: String,
    /// Flow.
    mode: Option<ApprovalMode>,
    /// Hold deadline.
    deadline: Option<SystemTime>,
    /// The approval at the service.
    approval_id: Option<String>,
    status_url: String,
    decide_by: u64,
    /// The MCP call to answer, if the request is one.
    mcp: Option<McpCall>,
    /// Whether the request headers can still be changed (acting in the headers phase).
    in_headers: bool,
    /// Failed waits in a row (each asked again, up to [`WAIT_RETRIES`]).
    wait_failures: u32,
}

/// A failed wait on a held approval (a replica going away, a dropped connection) is asked
/// again this many times in a row before the request fails closed: the approval lives in the
/// service's database, so another replica answers for it.
const WAIT_RETRIES: u32 = 2;

fn decision_effect<'a>(cx: &'a Cx<'_>) -> Option<&'a str> {
    cx.facts.raw(facts::DECISION.name())?.get("effect")?.as_str()
}

fn metric(cx: &mut Cx<'_>, name: &'static str) {
    cx.effects.push(Effect::Metric { name, kind: MetricKind::Counter, value: 1 });
}

impl Approval {
    fn request_id(cx: &Cx<'_>) -> String {
        cx.facts.request_id().unwrap_or_default().to_string()
    }

    /// Starts the approval for this request (the decision is `require_approval`).
    fn start(&self, cx: &mut Cx<'_>, body: Option<&[u8]>, in_headers: bool) -> Flow {
        let mut held: Held = cx.scratch.take().unwrap_or_default();
        held.in_headers = in_headers;
        let request_id = Self::request_id(cx);
        let identity = match cx.facts.get::<IdentityFact>(facts::IDENTITY) {
            FactRead::Present(identity) => Some(identity),
            FactRead::Absent => None,
            FactRead::Unreadable(why) => {
                cx.effects.push(Effect::Log {
                    level: LogLevel::Error,
                    message: format!("warden approval: the identity fact is unreadable ({why}): refused"),
                });
                return Flow::Respond(reply::internal("approval_identity_unreadable", &request_id));
            }
        };
        let Some(identity) = identity else {
            return self.finish_refused(
                cx,
                held,
                ApprovalCode::ApprovalRequiresIdentity,
                "an approval needs a verified requester; none was established",
                None,
            );
        };
        let Some(decision) = cx.facts.read::<DecisionFact>(facts::DECISION) else {
            return Flow::Respond(reply::internal("approval_decision_unreadable", &request_id));
        };
        let Some(requirement) = decision.approval.clone() else {
            cx.effects.push(Effect::Log {
                level: LogLevel::Error,
                message: "warden approval: require_approval without an approval requirement: refused".into(),
            });
            return Flow::Respond(reply::internal("approval_requirement_missing", &request_id));
        };
        if requirement.mode == ApprovalMode::Hold && requirement.hold_timeout_ms > self.max_hold_timeout_ms {
            cx.effects.push(Effect::Log {
                level: LogLevel::Error,
                message: format!(
                    "warden approval: rule {:?} asks to hold {} ms, over this stage's max_hold_timeout_ms {}: refused (lower the rule's hold_timeout_ms or raise max_hold_timeout_ms with the route's idle_timeout)",
                    decision.rules, requirement.hold_timeout_ms, self.max_hold_timeout_ms
                ),
            });
            return Flow::Respond(reply::internal("approval_hold_timeout_over_ceiling", &request_id));
        }
        let header = |name: &str| cx.request.header(name).unwrap_or("").to_string();
        let (method, authority, path, content_type) =
            (header(":method"), header(":authority"), header(":path"), header("content-type"));
        // An MCP tools/call binds to its tool and arguments; its answers keep its id.
        let parsed: Option<Value> = body.and_then(|b| serde_json::from_slice(b).ok());
        let call = parsed.as_ref().and_then(warden_kit::mcp::calls).and_then(|(calls, batch)| {
            let call = calls.into_iter().next().filter(|c| !batch && c.method == "tools/call")?;
            Some((call.tool?, call.arguments, call.id))
        });
        held.mcp = call.as_ref().and_then(|(_, _, id)| id.clone()).map(|id| McpCall { id });
        let input = ActionInput {
            v: DIGEST_VERSION,
            requester: RequesterInput::of(&identity),
            method: method.to_ascii_uppercase(),
            authority: normalize_authority(&authority),
            path: normalize_path(&path),
            content_type: content_type.trim().to_ascii_lowercase(),
            body_sha256: if call.is_some() { None } else { Some(sha256_hex(body.unwrap_or_default())) },
            mcp: call
                .as_ref()
                .map(|(tool, arguments, _)| ToolCallInput { tool: tool.clone(), arguments: arguments.clone() }),
            rules: decision.rules.clone(),
            policy: decision.policy.clone(),
        };
        let Some(bound) = digest(&input) else {
            return Flow::Respond(reply::internal("approval_digest_failed", &request_id));
        };
        held.digest = bound;
        held.subject = identity.subject.clone();
        held.issuer = identity.issuer.clone();
        held.mode = Some(requirement.mode);
        if let Some(id) = held.retry_id.clone() {
            let callout = self.consume(&id, &held.digest, &held.subject, &held.issuer);
            held.approval_id = Some(id);
            cx.scratch.set(held);
            return Flow::Callout(callout);
        }
        if requirement.mode == ApprovalMode::Hold {
            held.deadline = Some(cx.now + Duration::from_millis(requirement.hold_timeout_ms));
        }
        let requester = Requester {
            subject: identity.subject.clone(),
            issuer: identity.issuer.clone(),
            kind: identity.kind,
            actors: identity.actors.clone(),
        };
        // What the approvers see: the digest binds the whole path, they are shown its query
        // values masked; argument names, the SQL read, and the body's start (masked by the
        // service before it is stored or shown).
        let sql = decision.action.as_ref().and_then(|a| a.sql.as_ref());
        let preview = body.filter(|b| !b.is_empty() && self.preview_bytes > 0).map(|b| {
            let cut = b.len().min(self.preview_bytes);
            (String::from_utf8_lossy(&b[..cut]).into_owned(), cut < b.len())
        });
        let action = Action {
            method: input.method.clone(),
            authority: input.authority.clone(),
            path: warden_kit::audit::path_with_query_masked(&input.path),
            tool: input.mcp.as_ref().map(|m| m.tool.clone()),
            rules: decision.rules.clone(),
            reasons: decision.reasons.clone(),
            policy: decision.policy.clone(),
            arguments: input
                .mcp
                .as_ref()
                .and_then(|m| m.arguments.as_object())
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default(),
            sql: sql.map(|s| SqlSummary { classes: s.classes.clone(), tables: s.tables.clone() }),
            body_truncated: preview.as_ref().is_some_and(|(_, cut)| *cut),
            body: preview.map(|(text, _)| text),
            body_masked: Default::default(),
        };
        let callout = self.create(&held.digest, requester, action, &requirement.approvers);
        cx.scratch.set(held);
        Flow::Callout(callout)
    }

    fn fact(&self, held: &Held, status: ApprovalStatus, code: Option<ApprovalCode>) -> ApprovalFact {
        ApprovalFact {
            v: facts::VERSION,
            status,
            approval_id: held.approval_id.clone().unwrap_or_default(),
            approver: None,
            decided_at: None,
            mode: held.mode,
            digest: held.digest.clone(),
            code,
            forced: false,
            receipt: None,
        }
    }

    fn finish_refused(
        &self,
        cx: &mut Cx<'_>,
        held: Held,
        code: ApprovalCode,
        message: &str,
        status: Option<ApprovalStatus>,
    ) -> Flow {
        let status = status.unwrap_or(if code == ApprovalCode::ApprovalDenied {
            ApprovalStatus::Denied
        } else {
            ApprovalStatus::Refused
        });
        cx.facts.write(facts::APPROVAL, &self.fact(&held, status, Some(code)));
        metric(
            cx,
            if status == ApprovalStatus::Denied {
                "warden_approval_denied_total"
            } else {
                "warden_approval_refused_total"
            },
        );
        let request_id = Self::request_id(cx);
        Flow::Respond(reply::refused(
            code.as_str(),
            message,
            held.approval_id.as_deref(),
            &request_id,
            held.mcp.as_ref(),
        ))
    }

    fn finish_unavailable(&self, cx: &mut Cx<'_>, held: Held, why: &str) -> Flow {
        cx.effects.push(Effect::Log {
            level: LogLevel::Warn,
            message: format!("warden approval: the approval service failed ({why}): request refused"),
        });
        cx.facts.write(
            facts::APPROVAL,
            &self.fact(&held, ApprovalStatus::Error, Some(ApprovalCode::ApprovalServiceUnavailable)),
        );
        metric(cx, "warden_approval_unavailable_total");
        let request_id = Self::request_id(cx);
        Flow::Respond(reply::unavailable(&request_id, held.mcp.as_ref()))
    }

    fn finish_pending(&self, cx: &mut Cx<'_>, held: Held, timed_out: bool) -> Flow {
        let status = if timed_out { ApprovalStatus::Timeout } else { ApprovalStatus::Pending };
        cx.facts.write(facts::APPROVAL, &self.fact(&held, status, Some(ApprovalCode::ApprovalPending)));
        metric(cx, if timed_out { "warden_approval_hold_timeout_total" } else { "warden_approval_pending_total" });
        let request_id = Self::request_id(cx);
        let id = held.approval_id.clone().unwrap_or_default();
        Flow::Respond(reply::pending(&id, &held.status_url, held.decide_by, &request_id, timed_out, held.mcp.as_ref()))
    }

    /// The receipt is the service's, for this approval, this action and this requester.
    fn receipt_fits(&self, held: &Held, receipt: &SignedReceipt) -> bool {
        let r = &receipt.receipt;
        verify(&self.receipt_key, receipt)
            && r.decision == Outcome::Approved
            && Some(&r.approval_id) == held.approval_id.as_ref()
            && r.digest == held.digest
            && r.requester.subject == held.subject
            && r.requester.issuer == held.issuer
    }

    fn on_consumed(&self, cx: &mut Cx<'_>, held: Held, receipt: SignedReceipt) -> Flow {
        if !self.receipt_fits(&held, &receipt) {
            return self.finish_unavailable(cx, held, "a receipt that does not verify or does not match");
        }
        let r = &receipt.receipt;
        let mut fact = self.fact(&held, ApprovalStatus::Approved, None);
        fact.approver = r.deciders.iter().find(|d| d.decision == VoteDecision::Approve).map(|d| d.subject.clone());
        fact.decided_at = Some(r.decided_at);
        fact.forced = r.forced;
        fact.receipt = Some(receipt.clone());
        cx.facts.write(facts::APPROVAL, &fact);
        if held.in_headers {
            if let Some(id) = &held.approval_id {
                cx.effects.push(Effect::SetHeader {
                    map: HeaderMap::Request,
                    name: APPROVAL_ID_HEADER.into(),
                    value: id.clone(),
                });
            }
        }
        metric(cx, "warden_approval_approved_total");
        Flow::Continue
    }

    fn respond_to(&self, cx: &mut Cx<'_>, response: &warden_kit::CalloutResponse) -> Flow {
        let Some(mut held) = cx.scratch.take::<Held>() else {
            return Flow::Respond(reply::internal("approval_state_lost", &Self::request_id(cx)));
        };
        let answer = match response.tag.as_str() {
            service::CONSUME => read_consume(response),
            _ => read_approval(response),
        };
        let waiting_on = held.approval_id.clone().filter(|_| response.tag == service::WAIT);
        let left = held.deadline.and_then(|d| d.duration_since(cx.now).ok()).unwrap_or_default();
        if let (Some(id), Answer::Unavailable(why)) = (waiting_on, &answer) {
            if held.wait_failures < WAIT_RETRIES && !left.is_zero() {
                held.wait_failures += 1;
                let message = format!(
                    "warden_approval: waiting on {id} failed ({why}); asking again ({} of {WAIT_RETRIES})",
                    held.wait_failures
                );
                cx.effects.push(Effect::Log { level: LogLevel::Warn, message });
                metric(cx, "warden_approval_wait_retries_total");
                let callout = self.wait(&id, left.as_secs().clamp(1, self.poll_secs));
                cx.scratch.set(held);
                return Flow::Callout(callout);
            }
        }
        if matches!(answer, Answer::Approval(_)) {
            held.wait_failures = 0;
        }
        match (response.tag.as_str(), answer) {
            (_, Answer::Unavailable(why)) => self.finish_unavailable(cx, held, &why),
            (service::CONSUME, Answer::Consumed(receipt)) => self.on_consumed(cx, held, *receipt),
            (service::CONSUME, Answer::Refused(refusal)) => {
                let message = match refusal {
                    ConsumeRefusal::ApprovalPending => {
                        "the approval has not been decided yet; retry once it is approved"
                    }
                    ConsumeRefusal::ApprovalDenied => "the approval was denied",
                    ConsumeRefusal::ApprovalExpired => "the approval expired",
                    ConsumeRefusal::ApprovalUsed => {
                        "the approval was already used; an approval is good for one request"
                    }
                    ConsumeRefusal::ApprovalMismatch => "this approval is not for this request",
                };
                self.finish_refused(cx, held, refusal.into(), message, None)
            }
            (service::CREATE | service::WAIT, Answer::Approval(view)) => {
                let shown = &view.approval;
                held.approval_id = Some(shown.id.clone());
                held.status_url = view.status_url.clone();
                held.decide_by = shown.decide_by;
                match shown.status {
                    Status::Approved => {
                        let callout = self.consume(&shown.id, &held.digest, &held.subject, &held.issuer);
                        cx.scratch.set(held);
                        Flow::Callout(callout)
                    }
                    Status::Pending => match held.deadline {
                        None => self.finish_pending(cx, held, false),
                        Some(deadline) => {
                            let left = deadline.duration_since(cx.now).unwrap_or_default();
                            if left.is_zero() {
                                return self.finish_pending(cx, held, true);
                            }
                            let wait = left.as_secs().clamp(1, self.poll_secs);
                            let callout = self.wait(&shown.id, wait);
                            cx.scratch.set(held);
                            Flow::Callout(callout)
                        }
                    },
                    Status::Denied => {
                        let reason = shown.reason.clone().unwrap_or_default();
                        let message = if reason.is_empty() {
                            "the approval was denied".to_string()
                        } else {
                            format!("the approval was denied: {reason}")
                        };
                        self.finish_refused(
                            cx,
                            held,
                            ApprovalCode::ApprovalDenied,
                            &message,
                            Some(ApprovalStatus::Denied),
                        )
                    }
                    Status::Consumed => {
                        self.finish_refused(cx, held, ApprovalCode::ApprovalUsed, "the approval was already used", None)
                    }
                    Status::Expired | Status::Cancelled => self.finish_refused(
                        cx,
                        held,
                        ApprovalCode::ApprovalExpired,
                        "the approval expired before it was decided",
                        None,
                    ),
                }
            }
            (_, other) => self.finish_unavailable(cx, held, &format!("unexpected answer {other:?}")),
        }
    }
}

impl Stage for Approval {
    fn name(&self) -> &'static str {
        <Self as warden_kit::StageKind>::NAME
    }

    /// Holds up to `max_hold_timeout_ms`: a policy before it asking for longer is refused
    /// when the chain is compiled.
    fn contract(&self) -> warden_kit::contract::Contract {
        let ceiling = Some((self.max_hold_timeout_ms, "max_hold_timeout_ms".to_string()));
        warden_kit::contract::Contract { hold_ceiling: ceiling, ..Default::default() }
    }

    fn needs(&self) -> Needs {
        Needs {
            request_body: BodyNeed::Inspect,
            reads_facts: &READS_FACTS,
            enforces_approval: true,
            max_body_bytes: Some(warden_kit::limits::MAX_BODY_BYTES),
            ..Needs::default()
        }
    }

    fn on_request_headers(&self, cx: &mut Cx<'_>) -> Flow {
        // Only the proxy says which approval a request used: incoming copies go, and the
        // caller's retry header is read, then removed too.
        let retry_id = cx.request.header(RETRY_HEADER).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let spoofed: Vec<String> = cx
            .request
            .headers()
            .iter()
            .filter(|(name, _)| name.starts_with(RETRY_HEADER))
            .map(|(name, _)| name.clone())
            .collect();
        for name in spoofed {
            cx.effects.push(Effect::RemoveHeader { map: HeaderMap::Request, name });
        }
        match decision_effect(cx) {
            Some("require_approval") => {}
            Some(_) => {
                cx.effects.push(Effect::SkipRequestBody);
                return Flow::Continue;
            }
            None if cx.headers_only => return Flow::Continue,
            None => {}
        }
        cx.scratch.set(Held { retry_id: retry_id.clone(), ..Held::default() });
        if decision_effect(cx) == Some("require_approval") {
            if cx.headers_only {
                return self.start(cx, None, true);
            }
            if let Some(id) = retry_id {
                // The body binds the digest, so the approval is consumed in the body phase;
                // the upstream gets the claimed id now and the body only once it is consumed.
                cx.effects.push(Effect::SetHeader {
                    map: HeaderMap::Request,
                    name: APPROVAL_ID_HEADER.into(),
                    value: id,
                });
            }
        }
        Flow::Continue
    }

    fn on_request_body(&self, cx: &mut Cx<'_>) -> Flow {
        if decision_effect(cx) != Some("require_approval") {
            return Flow::Continue;
        }
        let body = cx.request.body().map(<[u8]>::to_vec);
        self.start(cx, Some(body.as_deref().unwrap_or_default()), false)
    }

    fn on_callout_response(&self, cx: &mut Cx<'_>, response: &warden_kit::CalloutResponse) -> Flow {
        self.respond_to(cx, response)
    }
}
