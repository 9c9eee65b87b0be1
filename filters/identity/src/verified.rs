//! A verified identity, rendered once for publishing.

use crate::config::UpstreamHeaders;
use std::sync::Arc;
use warden_kit::facts::{IdentityFact, SubjectKind};
use warden_kit::EncodedFact;

/// A verified identity rendered once for publishing: the fact (already serialized), the
/// upstream headers it maps to, and what to do with the credential. Shared by the token cache
/// and every request it answers, so a cache hit serializes and formats nothing.
#[derive(Debug)]
pub struct Verified {
    /// The identity fact.
    pub fact: IdentityFact,
    /// The fact serialized for `warden.identity` (`None` only if it could not be serialized).
    pub encoded: Option<EncodedFact<IdentityFact>>,
    /// Upstream identity headers (name, value) as configured by `upstream_headers`.
    pub upstream_headers: Vec<(String, String)>,
    /// Header to remove before the upstream (a credential that must not be forwarded).
    pub remove_header: Option<String>,
}

impl Verified {
    /// Renders `fact` for publishing with the configured header names.
    pub fn new(fact: IdentityFact, names: &UpstreamHeaders, remove_header: Option<String>) -> Arc<Verified> {
        let mut upstream_headers = Vec::new();
        let mut add = |name: &Option<String>, value: String| {
            if let Some(name) = name {
                upstream_headers.push((name.clone(), value));
            }
        };
        add(&names.subject, fact.subject.clone());
        add(&names.kind, kind_name(fact.kind).to_string());
        if let Some(actor) = fact.actors.last() {
            add(&names.actor, actor.subject.clone());
        }
        if !fact.groups.is_empty() {
            add(&names.groups, fact.groups.join(","));
        }
        Arc::new(Verified { encoded: EncodedFact::new(&fact), fact, upstream_headers, remove_header })
    }
}

fn kind_name(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::Human => "human",
        SubjectKind::Agent => "agent",
        SubjectKind::Service => "service",
    }
}
