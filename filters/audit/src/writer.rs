//! A request's record written straight to its canonical bytes: the facts are read in place
//! (borrowed, no typed copy) and serialized by serde_json in one pass through structs whose
//! fields are declared in canonical (sorted) order, so no intermediate JSON value is built.
//! The bytes are exactly those of [`crate::build`] sealed by [`crate::Stream::seal`]: tests
//! compare the two. When a value could need RFC 8785's general writer (an integer beyond
//! 2^53, an embedded fact with non-ASCII keys or floats) [`write`] returns `None` and the
//! caller takes the general path.

use crate::record::{query_names, refusal_of, Observed};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_kit::audit::{trace_id, RecordKind, Refusal, RECORD_VERSION};
use warden_kit::canonical::{is_plain, EXACT_INTEGER};
use warden_kit::facts::{
    self, ApprovalFact, ApprovalStatus, IdentityMethod, MaskingFact, RuleEffect, SqlClass, SubjectKind, Verdict,
};
use warden_kit::Facts;

/// Where the record goes in its stream.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    /// Stream id.
    pub stream: &'a str,
    /// Sequence number.
    pub seq: u64,
    /// Previous record's hash (empty for the first).
    pub prev: &'a str,
}

fn empty(text: &&str) -> bool {
    text.is_empty()
}

fn zero(n: &u64) -> bool {
    *n == 0
}

/// `warden.identity` as the record shows it (`who`); `v` is read (as the typed fact
/// requires it) but not written.
#[derive(Deserialize, Serialize)]
struct Who<'a> {
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    actors: Vec<Actor<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<&'a str>,
    issuer: &'a str,
    kind: SubjectKind,
    method: IdentityMethod,
    subject: &'a str,
    #[serde(skip_serializing)]
    v: u32,
}

#[derive(Deserialize, Serialize)]
struct Actor<'a> {
    kind: SubjectKind,
    subject: &'a str,
}

/// `warden.decision` as the record shows it (`decision`, and `what.action`).
#[derive(Deserialize, Serialize)]
struct Decision<'a> {
    #[serde(default, borrow, skip_serializing)]
    action: Option<Action<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    dry_run: Vec<DryRun<'a>>,
    effect: Verdict,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    logged: Vec<&'a str>,
    #[serde(borrow, skip_serializing_if = "empty")]
    policy: &'a str,
    #[serde(borrow, skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'a str>,
    #[serde(borrow, skip_serializing_if = "Vec::is_empty")]
    rules: Vec<&'a str>,
    #[serde(skip_serializing)]
    v: u32,
}

#[derive(Deserialize, Serialize)]
struct DryRun<'a> {
    effect: RuleEffect,
    rule: &'a str,
}

#[derive(Deserialize, Serialize)]
struct Action<'a> {
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    mcp: Vec<McpCall<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    sql: Option<Sql<'a>>,
}

#[derive(Deserialize, Serialize)]
struct McpCall<'a> {
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    arguments: Vec<&'a str>,
    method: &'a str,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    tool: Option<&'a str>,
}

#[derive(Deserialize, Serialize)]
struct Sql<'a> {
    classes: Vec<SqlClass>,
    destructive: bool,
    parsed: bool,
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<&'a str>,
    #[serde(borrow)]
    tables: Vec<&'a str>,
}

#[derive(Serialize)]
struct Source<'a> {
    #[serde(skip_serializing_if = "empty")]
    address: &'a str,
    #[serde(skip_serializing_if = "empty")]
    spiffe: &'a str,
}

#[derive(Serialize)]
struct What<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a Action<'a>>,
    authority: &'a str,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    query: String,
}

#[derive(Serialize)]
struct Outcome<'a> {
    #[serde(skip_serializing_if = "empty")]
    details: &'a str,
    duration_us: u64,
    #[serde(skip_serializing_if = "zero")]
    flags: u64,
    #[serde(skip_serializing_if = "zero")]
    request_bytes: u64,
    #[serde(skip_serializing_if = "zero")]
    response_bytes: u64,
    status: u32,
}

/// The record, members in canonical order.
#[derive(Serialize)]
struct Record<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'a Decision<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Source<'a>>,
    kind: RecordKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    masking: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome<'a>>,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<Refusal>,
    #[serde(skip_serializing_if = "empty")]
    request_id: &'a str,
    seq: u64,
    stream: &'a str,
    time_ms: u64,
    #[serde(skip_serializing_if = "empty")]
    trace_id: &'a str,
    v: u32,
    what: What<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    who: Option<Who<'a>>,
}

/// A fact embedded whole (approval, masking): read through its typed shape, as the general
/// path does, then as a JSON value; `Err` if its JSON is not already canonical.
fn embedded<T: for<'de> Deserialize<'de> + Serialize>(
    facts: &Facts,
    key: facts::FactKey<T>,
) -> Result<Option<Value>, ()> {
    match facts.read(key) {
        None => Ok(None),
        Some(fact) => {
            let value = serde_json::to_value(&fact).map_err(|_| ())?;
            if is_plain(&value) {
                Ok(Some(value))
            } else {
                Err(())
            }
        }
    }
}

/// The canonical bytes of the `kind` record (`request` or `intent`; with `outcome` for a
/// request) at `position`, or `None` when the general writer is needed.
pub fn write(
    facts: &Facts,
    observed: &Observed,
    keep_query: bool,
    kind: RecordKind,
    with_outcome: bool,
    position: Position<'_>,
) -> Option<Vec<u8>> {
    let numbers = [position.seq, observed.time_ms, observed.flags, observed.request_bytes, observed.response_bytes];
    if numbers.iter().chain([&observed.duration_us]).any(|n| *n > EXACT_INTEGER) {
        return None;
    }
    // Read as the general path reads them: a fact of another version is not read.
    let who: Option<Who<'_>> =
        facts.raw(facts::IDENTITY.name()).and_then(|v| Who::deserialize(v).ok()).filter(|w| w.v == facts::VERSION);
    let decision: Option<Decision<'_>> =
        facts.raw(facts::DECISION.name()).and_then(|v| Decision::deserialize(v).ok()).filter(|d| d.v == facts::VERSION);
    let approval = embedded::<ApprovalFact>(facts, facts::APPROVAL).ok()?;
    let masking = embedded::<MaskingFact>(facts, facts::MASKING).ok()?;
    let spiffe = who.as_ref().and_then(|w| facts::spiffe_id(w.method, w.subject)).unwrap_or("");
    let (path, query) = observed.path.split_once('?').unwrap_or((&observed.path, ""));
    let refused = decision.as_ref().and_then(|d| {
        let approval = approval.as_ref().and_then(|a| {
            let status: ApprovalStatus = serde_json::from_value(a["status"].clone()).ok()?;
            Some((status, a["code"].as_str()))
        });
        refusal_of(d.effect, d.reasons.iter().copied(), approval)
    });
    let record = Record {
        approval,
        decision: decision.as_ref(),
        from: (!observed.source.is_empty() || !spiffe.is_empty())
            .then_some(Source { address: &observed.source, spiffe }),
        kind,
        masking,
        outcome: with_outcome.then_some(Outcome {
            details: &observed.details,
            duration_us: observed.duration_us,
            flags: observed.flags,
            request_bytes: observed.request_bytes,
            response_bytes: observed.response_bytes,
            status: observed.status,
        }),
        prev: position.prev,
        refused,
        request_id: facts.request_id().unwrap_or_default(),
        seq: position.seq,
        stream: position.stream,
        time_ms: observed.time_ms,
        trace_id: trace_id(&observed.traceparent).unwrap_or_default(),
        v: RECORD_VERSION,
        what: What {
            action: decision.as_ref().and_then(|d| d.action.as_ref()),
            authority: &observed.authority,
            method: &observed.method,
            path,
            query: if keep_query { query.to_string() } else { query_names(query) },
        },
        who,
    };
    let mut out = Vec::with_capacity(768);
    serde_json::to_writer(&mut out, &record).ok()?;
    Some(out)
}
