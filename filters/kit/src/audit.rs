//! The audit record (`warden.audit`, shape version 1): one per request, written by the audit
//! stage at the end of the stream, stored as RFC 8785 canonical JSON (the bytes hashed are the
//! bytes stored and exported), read back by the evidence ledger and `warden audit`.
//!
//! Records of one VM form a *stream*: a random-looking id, a sequence number from 0 and the
//! hash of the previous record, so a record lost between the proxy and the ledger shows as a
//! gap, never silently. A `gap` record counts records a VM had to drop.
//!
//! No secret is ever part of a record: no token, header value, cookie, query value, body or
//! masked value; identities come from `warden.identity`, which holds none.

use crate::facts::{ActionFact, Actor, ApprovalFact, DryRunOutcome, IdentityMethod, MaskingFact, SubjectKind, Verdict};
use crate::FactKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where the record is exported (filter state `wasm.warden.audit`, raw canonical JSON bytes).
pub const AUDIT: FactKey<AuditRecord> = FactKey::versioned("warden.audit", RECORD_VERSION);

/// Version of the record shape.
pub const RECORD_VERSION: u32 = 1;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// One request, whatever happened to it.
    Request,
    /// Records this stream dropped (its buffer was full): `gap` says how many.
    Gap,
    /// A request on a strict route, recorded (and acknowledged by the ledger) before it was
    /// let through. Each VM's intents are a stream of their own, which may have holes: an
    /// intent the ledger did not acknowledge refused its request.
    Intent,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Shape version ([`RECORD_VERSION`]).
    pub v: u32,
    /// What it is about.
    pub kind: RecordKind,
    /// The VM's stream id (32 hex digits).
    pub stream: String,
    /// Position in the stream, from 0, no holes.
    pub seq: u64,
    /// `sha256:<hex>` of the previous record's canonical bytes in this stream; empty for the
    /// first.
    pub prev: String,
    /// When the request ended, milliseconds since the epoch.
    pub time_ms: u64,
    /// `x-request-id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    /// W3C trace id (from `traceparent`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
    /// Who: the verified caller, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Who>,
    /// Where from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Source>,
    /// What was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<What>,
    /// What policy decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRecord>,
    /// The approval (with its signed receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalFact>,
    /// What was hidden (types, counts, paths; never values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<MaskingFact>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// For a `gap` record: what was dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// Warden refused the action: which stage and why, whatever HTTP status carried the
    /// refusal (an MCP call refused as a JSON-RPC error is answered 200). Absent when Warden
    /// let the action go on (it may still have failed upstream: see `outcome`). Added within
    /// record version 1: readers of version 1 that predate it do not accept records with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// Why Warden refused an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// The stage that refused: `policy` or `approval`.
    pub by: String,
    /// A stable code: `denied_by_policy`, `ambiguous_path`, `approval_denied`,
    /// `approval_expired`, `approval_used`, `approval_mismatch`, `approval_pending`,
    /// `approval_unavailable`.
    pub code: String,
}

/// The verified caller (from `warden.identity`; never a credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Who {
    /// The subject the identity stage verified (person or workload the request is for).
    pub subject: String,
    /// Issuer of the credential (token issuer, trust domain, or `api_key`).
    pub issuer: String,
    /// Whether the subject is a person, an agent or a service.
    pub kind: SubjectKind,
    /// Who acts for the subject, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<Actor>,
    /// Groups or roles the credential carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `jwt`, `mtls`, `api_key`.
    pub method: IdentityMethod,
}

/// Where the request came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `ip:port`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// SPIFFE id of the client certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spiffe: String,
}

/// What was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct What {
    /// HTTP method, as sent.
    pub method: String,
    /// The `:authority` the request was for.
    pub authority: String,
    /// Path without the query.
    pub path: String,
    /// The query: its parameter names only (values redacted, the default), or whole when the
    /// stage is configured to keep it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// MCP calls and SQL, as the policy read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionFact>,
}

/// What policy decided (from `warden.decision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    /// The effect.
    pub effect: Verdict,
    /// Deciding rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Why, one short line per deciding rule (no secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Policy version (`sha256:`...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy: String,
    /// Dry-run outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRunOutcome>,
    /// `log` rules that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logged: Vec<String>,
}

/// How the request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// HTTP status sent downstream (0 if none: the stream was reset).
    pub status: u32,
    /// Envoy's response code details (`via_upstream`, a local reply's details such as
    /// `warden_policy_denied`), when the proxy says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// Envoy's response flags bitmask (0: none), when the proxy says.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u64,
    /// Request bytes (headers and body) as received, when the proxy says.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub request_bytes: u64,
    /// Response bytes sent, when the proxy says.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub response_bytes: u64,
    /// From the request headers to the end of the stream, microseconds.
    pub duration_us: u64,
}

/// Records a stream dropped, between the records around the gap record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// How many records were dropped.
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl AuditRecord {
    /// The canonical bytes (stored, exported and hashed).
    pub fn canonical(&self) -> Result<Vec<u8>, crate::canonical::CanonicalError> {
        crate::canonical::to_vec(self)
    }
}

/// `sha256:<hex>` of canonical record bytes: what the next record's `prev` holds.
pub fn chain_hash(canonical: &[u8]) -> String {
    format!("sha256:{}", crate::hex::encode(&Sha256::digest(canonical)))
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if well formed.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    let well_formed = trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()) && trace != "0".repeat(32);
    well_formed.then_some(trace)
}

/// What stands in for a query value wherever a path is shown or stored beyond the proxy.
pub const MASKED_QUERY_VALUE: &str = "***";

/// A path with every query value masked (`/mcp?token=abc&page=2&flag` →
/// `/mcp?token=***&page=***&flag`): what approvers, chat messages, the approvals database and
/// the event log may hold of a query, since request records drop the values altogether (a
/// query may carry a token). Parameter names and their order are kept.
pub fn path_with_query_masked(path: &str) -> String {
    let Some((path, query)) = path.split_once('?') else { return path.to_string() };
    let masked: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASKED_QUERY_VALUE}"),
            None => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", masked.join("&"))
}

#[cfg(test)]
mod query_tests {
    use super::path_with_query_masked;

    #[test]
    fn query_values_are_masked_names_kept() {
        assert_eq!(path_with_query_masked("/mcp?token=s3cret&page=2&flag"), "/mcp?token=***&page=***&flag");
        assert_eq!(path_with_query_masked("/mcp"), "/mcp");
        assert_eq!(path_with_query_masked("/a?x=1=2&&y="), "/a?x=***&y=***");
    }
}
