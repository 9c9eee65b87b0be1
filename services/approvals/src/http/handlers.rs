//! The `/v1` endpoints. Each authenticates its caller first; proxies create, wait on, use and
//! cancel approvals; people list, read and decide them.

use super::error::ApiError;
use super::extract::{json, ApprovalId, Source};
use super::App;
use crate::auth::Caller;
use crate::core::approval::{Approval, Status};
use crate::core::approver::{may_force, may_vote, Approver};
use crate::core::consume::ConsumeRequest;
use crate::core::decide::VoteRequest;
use crate::core::tally::VoteDecision;
use crate::store::{Ballot, NewApproval, Origin};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json as j, Value};
use std::sync::Arc;
use std::time::Duration;
use warden_kit::approval_api::{
    ApprovalView, Consumed, CreateApproval, DecideBody, ErrorBody, ErrorCode, ForceBody, MAX_REASON_CHARS,
};

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

fn ok(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)))
}

/// An approval as answered: its status now, and where to read it.
fn view(app: &App, approval: &Approval) -> Value {
    let view = ApprovalView::at(approval, crate::unix_now(), &app.service.public_url);
    serde_json::to_value(view).unwrap_or(Value::Null)
}

fn proxy_only(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Proxy { .. } => Ok(()),
        Caller::Person(_) => Err(ApiError::forbidden("only a configured proxy may do this")),
    }
}

fn person_only(caller: &Caller) -> Result<&Approver, ApiError> {
    match caller {
        Caller::Person(p) => Ok(p),
        Caller::Proxy { .. } => Err(ApiError::forbidden("proxies cannot decide approvals; a person must")),
    }
}

/// Whether `caller` may read `approval`: proxies, the requester (and anyone in its actor
/// chain: the same subject names the same person to the service, as for eligibility),
/// whoever may decide it, and whoever already voted on it.
pub(crate) fn may_read(app: &App, caller: &Caller, approval: &Approval) -> bool {
    match caller {
        Caller::Proxy { .. } => true,
        Caller::Person(p) => {
            approval.requester.involves(&p.subject)
                || may_vote(p, approval).is_ok()
                || may_force(p, approval, app.service.break_glass_group.as_deref()).is_ok()
                || approval.votes.iter().any(|v| v.subject == p.subject)
        }
    }
}

fn digest_ok(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Creates an approval (201), or returns the pending one for the same action by the same
/// requester (200).
pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    proxy_only(&caller)?;
    let body: CreateApproval = json(body)?;
    if !digest_ok(&body.digest) {
        return Err(ApiError::invalid("digest", "`sha256:` and 64 lowercase hex digits"));
    }
    if body.requester.subject.is_empty() {
        return Err(ApiError::invalid("requester.subject", "must not be empty"));
    }
    let r = &body.requirement;
    if r.groups.is_empty() && r.users.is_empty() {
        return Err(ApiError::invalid("requirement", "name approvers: `groups` and/or `users`"));
    }
    for (field, value) in [
        ("requirement.min_approvals", Some(u64::from(r.min_approvals))),
        ("requirement.deny_threshold", Some(u64::from(r.deny_threshold))),
        ("requirement.max_auth_age_secs", r.max_auth_age_secs),
    ] {
        if value == Some(0) {
            return Err(ApiError::invalid(field, "at least 1"));
        }
    }
    if r.pending_ttl_secs == 0 || r.pending_ttl_secs > app.service.max_pending_ttl_secs {
        return Err(ApiError::invalid(
            "requirement.pending_ttl_secs",
            format!("1 to {}", app.service.max_pending_ttl_secs),
        ));
    }
    if r.use_by_secs == 0 || r.use_by_secs > app.service.max_use_by_secs {
        return Err(ApiError::invalid("requirement.use_by_secs", format!("1 to {}", app.service.max_use_by_secs)));
    }
    let mut action = body.action;
    app.service.preview.apply(&mut action);
    let new = NewApproval { digest: body.digest, requester: body.requester, action, requirement: body.requirement };
    let origin = Origin { actor: caller.actor(), source };
    let (approval, created) = app.store.create(new, new_id()?, crate::unix_now(), &origin).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(view(&app, &approval))))
}

/// A new approval id: `apr_` and 26 base32 characters (130 random bits).
fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 17];
    getrandom::fill(&mut bytes).map_err(|_| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::NoRandomness, "no randomness for an id")
    })?;
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bits: u128 = u128::from_le_bytes(bytes[..16].try_into().unwrap_or([0; 16]));
    let mut id = String::from("apr_");
    for i in 0..26 {
        let index = if i == 25 { bytes[16] & 31 } else { (bits & 31) as u8 };
        id.push(char::from(ALPHABET[usize::from(index)]));
        bits >>= 5;
    }
    Ok(id)
}

/// `GET /v1/approvals/{id}` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    /// Long-poll: wait this long for a decision (`30s` or `30`).
    #[serde(default)]
    pub wait: Option<String>,
}

fn wait_secs(text: &str, max: u64) -> Result<u64, ApiError> {
    let secs: u64 =
        text.strip_suffix('s').unwrap_or(text).parse().map_err(|_| ApiError::invalid("wait", "seconds, e.g. `30s`"))?;
    if secs > max {
        return Err(ApiError::invalid("wait", format!("at most {max}s")));
    }
    Ok(secs)
}

/// Reads one approval, waiting first when asked.
pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApprovalId(id): ApprovalId,
    Query(q): Query<GetQuery>,
) -> Answer {
    let wait = q.wait.as_deref().map(|w| wait_secs(w, app.service.max_wait_secs)).transpose()?.unwrap_or(0);
    let first = app.store.get(&id).await?.ok_or_else(ApiError::not_found)?;
    if !may_read(&app, &caller, &first) {
        return Err(ApiError::not_found());
    }
    let approval = if wait > 0 && first.status_at(crate::unix_now()) == Status::Pending {
        app.store.wait(&id, Duration::from_secs(wait)).await?.ok_or_else(ApiError::not_found)?
    } else {
        first
    };
    ok(view(&app, &approval))
}

/// Lists pending approvals: for a person, those they may decide; for a proxy, all.
pub async fn list(State(app): State<Arc<App>>, caller: Caller) -> Answer {
    let pending = app.store.pending(crate::unix_now(), 500).await?;
    let shown: Vec<Value> = pending
        .iter()
        .filter(|a| match &caller {
            Caller::Proxy { .. } => true,
            Caller::Person(p) => may_vote(p, a).is_ok() && !a.votes.iter().any(|v| v.subject == p.subject),
        })
        .map(|a| view(&app, a))
        .collect();
    ok(j!({ "approvals": shown }))
}

async fn decide(app: &App, caller: &Caller, id: &str, request: VoteRequest, source: Option<String>) -> Answer {
    let who = person_only(caller)?;
    if request.reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::invalid("reason", format!("at most {MAX_REASON_CHARS} characters")));
    }
    let ballot = Ballot { who, request, source, channel: "api", auth_time: None };
    let approval = app.store.vote(id, ballot, crate::unix_now(), &app.rules).await?;
    ok(view(app, &approval))
}

fn optional_json<T: serde::de::DeserializeOwned + Default>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    match &body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        _ => json(body),
    }
}

/// Approves (a vote; the approval is approved once the votes add up).
pub async fn approve(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    ApprovalId(id): ApprovalId,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body: DecideBody = optional_json(body)?;
    decide(
        &app,
        &caller,
        &id,
        VoteRequest { decision: VoteDecision::Approve, reason: body.reason, force: false },
        source,
    )
    .await
}

/// Denies (with a reason).
pub async fn deny(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    ApprovalId(id): ApprovalId,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body: DecideBody = optional_json(body)?;
    decide(&app, &caller, &id, VoteRequest { decision: VoteDecision::Deny, reason: body.reason, force: false }, source)
        .await
}

/// Forces a decision (break-glass group, reason required).
pub async fn force(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    ApprovalId(id): ApprovalId,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body: ForceBody = json(body)?;
    decide(&app, &caller, &id, VoteRequest { decision: body.decision, reason: Some(body.reason), force: true }, source)
        .await
}

/// Uses an approval once (proxy only): 200 with the signed receipt, or 409 with the code.
pub async fn consume(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    ApprovalId(id): ApprovalId,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    proxy_only(&caller)?;
    let request: ConsumeRequest = json(body)?;
    let origin = Origin { actor: caller.actor(), source };
    match app.store.consume(&id, &request, crate::unix_now(), &origin).await? {
        Ok((approval, receipt)) => {
            let approval = ApprovalView::at(&approval, crate::unix_now(), &app.service.public_url);
            ok(serde_json::to_value(Consumed { approval, receipt }).unwrap_or(Value::Null))
        }
        Err(refusal) => {
            let error = ErrorBody::new(refusal.into(), "this approval cannot be used for this request");
            Ok((StatusCode::CONFLICT, Json(serde_json::to_value(error).unwrap_or(Value::Null))))
        }
    }
}

/// Withdraws a pending approval (the proxy, or the requester).
pub async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    Source(source): Source,
    ApprovalId(id): ApprovalId,
) -> Answer {
    let approval = app.store.get(&id).await?.ok_or_else(ApiError::not_found)?;
    if let Caller::Person(p) = &caller {
        if approval.requester.subject != p.subject || approval.requester.issuer != p.issuer {
            return Err(if may_read(&app, &caller, &approval) {
                ApiError::forbidden("only the requester or the proxy may cancel")
            } else {
                ApiError::not_found()
            });
        }
    }
    let origin = Origin { actor: caller.actor(), source };
    match app.store.cancel(&id, crate::unix_now(), &origin).await? {
        Some(approval) => ok(view(&app, &approval)),
        None => {
            Err(ApiError::new(StatusCode::CONFLICT, ErrorCode::NotPending, "only a pending approval can be cancelled"))
        }
    }
}

/// `GET /v1/events` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events after this position (default 0: from the start).
    #[serde(default)]
    pub after: i64,
    /// At most this many (default and maximum 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// The approval event log, in order (proxies: the evidence ledger reads it with a proxy key).
pub async fn events(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    proxy_only(&caller)?;
    let Query(q) = query.map_err(|_| ApiError::invalid("after", "after and limit are integers"))?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 1000"));
    }
    let events = app.store.events(q.after, limit).await?;
    ok(j!({ "events": events }))
}

/// The public key receipts are signed with (public by design).
pub async fn keys(State(app): State<Arc<App>>) -> Answer {
    let signer = &app.rules.signer;
    ok(
        j!({"keys": [{"key_id": signer.key_id(), "alg": "EdDSA", "public_key": URL_SAFE_NO_PAD.encode(signer.public_key())}]}),
    )
}

/// Prometheus text metrics (a proxy key authenticates the scraper): approvals by status and
/// channel deliveries by channel and status (`failed` ones were given up on).
pub async fn metrics(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<(StatusCode, [(&'static str, &'static str); 1], String), ApiError> {
    proxy_only(&caller)?;
    let mut text = String::from("# HELP warden_approvals Approvals by stored status.\n# TYPE warden_approvals gauge\n");
    for (status, n) in app.store.approval_counts().await? {
        text.push_str(&format!("warden_approvals{{status=\"{status}\"}} {n}\n"));
    }
    text.push_str(
        "# HELP warden_approvals_deliveries Notifications to channels by channel and status (pending, delivered, failed).\n# TYPE warden_approvals_deliveries gauge\n",
    );
    for (channel, status, n) in app.store.delivery_counts().await? {
        text.push_str(&format!("warden_approvals_deliveries{{channel=\"{channel}\",status=\"{status}\"}} {n}\n"));
    }
    Ok((StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], text))
}

/// Liveness and database reachability (public by design; tells nothing about approvals).
pub async fn health(State(app): State<Arc<App>>) -> Answer {
    match app.store.events(i64::MAX, 1).await {
        Ok(_) => ok(j!({"status": "ok"})),
        Err(e) => Err(e.into()),
    }
}

/// The OpenAPI document of this API (public by design).
pub async fn openapi() -> Answer {
    let doc: Value = serde_json::from_str(super::OPENAPI).unwrap_or(Value::Null);
    ok(doc)
}
