//! Building a record from the request's facts and what the proxy observed: pure.

use warden_kit::audit::{
    trace_id, AuditRecord, DecisionRecord, Outcome, RecordKind, Refusal, Source, What, Who, RECORD_VERSION,
};
use warden_kit::facts::{
    self, ApprovalCode, ApprovalFact, ApprovalStatus, DecisionFact, IdentityFact, MaskingFact, Verdict,
};
use warden_kit::Facts;

/// What the proxy says about a finished request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// When it ended, milliseconds since the epoch.
    pub time_ms: u64,
    /// Method, authority and full path (`:path`, query included).
    pub method: String,
    /// Authority.
    pub authority: String,
    /// `:path` as received.
    pub path: String,
    /// `traceparent` header, if any.
    pub traceparent: String,
    /// `ip:port` of the client.
    pub source: String,
    /// Status sent downstream (0: none).
    pub status: u32,
    /// Envoy's response code details.
    pub details: String,
    /// Envoy's response flags.
    pub flags: u64,
    /// Request bytes.
    pub request_bytes: u64,
    /// Response bytes.
    pub response_bytes: u64,
    /// Duration, microseconds.
    pub duration_us: u64,
}

/// The record of a request (stream, sequence and previous hash still to be set by the
/// VM's [`crate::Stream`]). `keep_query`: keep the query whole, else only its parameter names.
pub fn build(facts: &Facts, observed: &Observed, keep_query: bool) -> AuditRecord {
    let identity: Option<IdentityFact> = facts.read(facts::IDENTITY);
    let decision: Option<DecisionFact> = facts.read(facts::DECISION);
    let approval: Option<ApprovalFact> = facts.read(facts::APPROVAL);
    let masking: Option<MaskingFact> = facts.read(facts::MASKING);
    let (path, query) = observed.path.split_once('?').unwrap_or((&observed.path, ""));
    let query = if keep_query { query.to_string() } else { query_names(query) };
    let spiffe = identity.as_ref().and_then(IdentityFact::spiffe_id).unwrap_or_default().to_string();
    let action = decision.as_ref().and_then(|d| d.action.clone());
    let refused = refusal(decision.as_ref(), approval.as_ref());
    AuditRecord {
        v: RECORD_VERSION,
        kind: RecordKind::Request,
        stream: String::new(),
        seq: 0,
        prev: String::new(),
        time_ms: observed.time_ms,
        request_id: facts.request_id().unwrap_or_default().to_string(),
        trace_id: trace_id(&observed.traceparent).unwrap_or_default().to_string(),
        who: identity.map(|i| Who {
            subject: i.subject,
            issuer: i.issuer,
            kind: i.kind,
            actors: i.actors,
            groups: i.groups,
            method: i.method,
        }),
        from: (!observed.source.is_empty() || !spiffe.is_empty())
            .then(|| Source { address: observed.source.clone(), spiffe }),
        what: Some(What {
            method: observed.method.clone(),
            authority: observed.authority.clone(),
            path: path.to_string(),
            query,
            action,
        }),
        decision: decision.map(|d| DecisionRecord {
            effect: d.effect,
            rules: d.rules,
            reasons: d.reasons,
            policy: d.policy,
            dry_run: d.dry_run,
            logged: d.logged,
        }),
        approval,
        masking,
        outcome: Some(Outcome {
            status: observed.status,
            details: observed.details.clone(),
            flags: observed.flags,
            request_bytes: observed.request_bytes,
            response_bytes: observed.response_bytes,
            duration_us: observed.duration_us,
        }),
        gap: None,
        refused,
    }
}

/// Whether, and why, Warden refused the action, from what the stages decided: the policy
/// denied it, or it needed approval and the approval stage did not let it go on (a person
/// denied it, the approval could not be used, the service failed, or no approval stage ran).
/// A deferred or timed-out hold is not a refusal: the caller got an id to come back with.
fn refusal(decision: Option<&DecisionFact>, approval: Option<&ApprovalFact>) -> Option<Refusal> {
    let decision = decision?;
    let approval = approval.map(|a| (a.status, a.code.map(ApprovalCode::as_str)));
    refusal_of(decision.effect, decision.reasons.iter().map(String::as_str), approval)
}

/// [`refusal`] from the decision's effect and reasons and the approval's status and code (the
/// record writer reads them in place).
pub(crate) fn refusal_of<'r>(
    effect: Verdict,
    mut reasons: impl Iterator<Item = &'r str>,
    approval: Option<(ApprovalStatus, Option<&str>)>,
) -> Option<Refusal> {
    let refused = |by: &str, code: &str| Some(Refusal { by: by.into(), code: code.into() });
    match effect {
        Verdict::Allow => None,
        Verdict::Deny if reasons.any(|r| r.starts_with("ambiguous path")) => refused("policy", "ambiguous_path"),
        Verdict::Deny => refused("policy", "denied_by_policy"),
        Verdict::RequireApproval => match approval {
            Some((ApprovalStatus::Approved | ApprovalStatus::Pending | ApprovalStatus::Timeout, _)) => None,
            Some((ApprovalStatus::Denied, _)) => refused("approval", "approval_denied"),
            Some((ApprovalStatus::Refused, code)) => refused("approval", code.unwrap_or("approval_refused")),
            Some((ApprovalStatus::Error, _)) | None => refused("approval", "approval_unavailable"),
        },
    }
}

/// `a=1&b=2&a=3` → `a&b&a`: the parameter names in order, values dropped.
pub(crate) fn query_names(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(name, _)| name))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::query_names;

    #[test]
    fn query_values_are_dropped_names_kept() {
        assert_eq!(query_names("token=abc&page=2&flag"), "token&page&flag");
        assert_eq!(query_names(""), "");
    }
}
