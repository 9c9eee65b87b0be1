//! Who is calling the service: a configured proxy (bearer key, compared by SHA-256 in
//! constant time) or a person (bearer JWT verified by the identity core). Identity headers
//! from the network are never trusted; API keys cannot decide.

use crate::config::Service;
use crate::core::approver::Approver;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A proxy's approval stage.
    Proxy {
        /// Its configured name.
        name: String,
    },
    /// A person (or an agent or service with a token: they may read, never decide).
    Person(Approver),
}

impl Caller {
    /// The actor named in the event log.
    pub fn actor(&self) -> crate::core::EventActor {
        match self {
            Caller::Proxy { name } => crate::core::EventActor::Proxy { name: name.clone() },
            Caller::Person(p) => crate::core::EventActor::Person { subject: p.subject.clone() },
        }
    }
}

/// Why a caller was not authenticated (HTTP 401; the message names no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unauthenticated(pub String);

/// Authenticates the `authorization` header value at `now_secs`. May fetch an approver
/// provider's key set (blocking, bounded by its `timeout_ms`): call it off the async runtime.
pub fn authenticate(service: &Service, authorization: Option<&str>, now_secs: u64) -> Result<Caller, Unauthenticated> {
    let token = authorization
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Unauthenticated("send `authorization: Bearer <token>`".into()))?;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut proxy = None;
    for p in &service.proxies {
        if bool::from(p.key_sha256.ct_eq(&digest)) {
            proxy = Some(p.name.clone());
        }
    }
    if let Some(name) = proxy {
        return Ok(Caller::Proxy { name });
    }
    let view = BearerOnly { headers: vec![("authorization".into(), format!("Bearer {token}"))] };
    let Some(approvers) = &service.approvers else {
        return Err(Unauthenticated("not a proxy key (no approver token providers are configured)".into()));
    };
    let fetch = |remote: &warden_identity::compile::Remote| crate::jwks_fetch::fetch(&service.clusters, remote);
    match approvers.verify(&view, now_secs, &fetch) {
        Ok(Some(fact)) => Ok(Caller::Person(Approver::from_identity(&fact))),
        Ok(None) => Err(Unauthenticated("not a proxy key, and no configured provider accepts this token".into())),
        Err(reason) => Err(Unauthenticated(format!("token refused: {reason}"))),
    }
}

/// Verifies a person's token (e.g. an ID token from the web login) with the approvers'
/// providers: who it names, and the raw identity. May fetch a key set (blocking).
pub fn person(service: &Service, token: &str, now_secs: u64) -> Result<Approver, Unauthenticated> {
    let view = BearerOnly { headers: vec![("authorization".into(), format!("Bearer {token}"))] };
    let approvers = service
        .approvers
        .as_ref()
        .ok_or_else(|| Unauthenticated("no approver token providers are configured".into()))?;
    let fetch = |remote: &warden_identity::compile::Remote| crate::jwks_fetch::fetch(&service.clusters, remote);
    match approvers.verify(&view, now_secs, &fetch) {
        Ok(Some(fact)) => Ok(Approver::from_identity(&fact)),
        Ok(None) => Err(Unauthenticated("no configured provider accepts this token".into())),
        Err(reason) => Err(Unauthenticated(format!("token refused: {reason}"))),
    }
}

/// A request view holding only the credential (nothing else from the network is read).
struct BearerOnly {
    headers: Vec<(String, String)>,
}

impl warden_kit::RequestView for BearerOnly {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
    fn response_header(&self, _name: &str) -> Option<&str> {
        None
    }
    fn property(&self, _path: &[&str]) -> Option<Vec<u8>> {
        None
    }
    fn body(&self) -> Option<&[u8]> {
        None
    }
}
