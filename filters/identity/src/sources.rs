//! Credential sources: JWT providers, API keys, SPIFFE. Each returns `None` when its
//! credential is absent, `Some(Err)` when present but invalid.

use crate::compile::{ApiKey, Identity, Provider};
use crate::config::TokenSource;
use crate::jwt::{self, Claims, JwtError};
use crate::verified::Verified;
use crate::vm::IdentityVm;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use warden_kit::facts::{Actor, IdentityFact, IdentityMethod, SubjectKind, VERSION};
use warden_kit::RequestView;

/// Why a present credential was refused (short, never containing the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Description for `error_description` and logs.
    pub reason: String,
}

fn claim<'a>(claims: &'a Claims, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |value, key| value.get(key))
}

/// A string claim split on whitespace, or an array of strings; absent or `null` is empty.
/// Control characters (which no header or database can carry) and any other shape (a number, an object, an array holding anything but strings) is refused:
/// read as empty it would drop the caller out of every group a deny rule names.
fn strings(value: Option<&Value>, name: &'static str) -> Result<Vec<String>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if !s.chars().any(char::is_control) => {
            Ok(s.split_whitespace().map(str::to_string).collect())
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| !s.chars().any(char::is_control))
                    .map(str::to_string)
                    .ok_or(JwtError::MalformedClaim(name))
            })
            .collect(),
        Some(_) => Err(JwtError::MalformedClaim(name)),
    }
}

/// Extracts the token for `provider`, if the request carries one.
fn token<'a>(provider: &Provider, request: &'a dyn RequestView) -> Option<Result<&'a str, Refusal>> {
    match &provider.source {
        TokenSource::Header { name, prefix } => {
            let value = request.header(name)?;
            // Two credentials in one request: the upstream may read the one Warden did not.
            if request.headers().iter().filter(|(k, _)| k == name).count() > 1 {
                return Some(Err(Refusal { reason: format!("more than one {name} header") }));
            }
            match prefix {
                Some(prefix) => {
                    let head = value.get(..prefix.len())?;
                    if !head.eq_ignore_ascii_case(prefix) {
                        return None; // Another scheme (e.g. Basic): not this provider's credential.
                    }
                    Some(Ok(value[prefix.len()..].trim()))
                }
                None => Some(Ok(value.trim())),
            }
        }
        TokenSource::Cookie { name } => {
            // Every `cookie` header, every pair: a second cookie of the same name is a second
            // credential the upstream may read instead.
            let mut found = request
                .headers()
                .iter()
                .filter(|(k, _)| k == "cookie")
                .flat_map(|(_, v)| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .filter(|(k, _)| k == name);
            let (_, value) = found.next()?;
            if found.next().is_some() {
                return Some(Err(Refusal { reason: format!("more than one {name} cookie") }));
            }
            Some(Ok(value.trim()))
        }
    }
}

/// Most nested actors a delegation claim may name.
const MAX_ACTORS: usize = 8;

/// The actor a delegation claim's object names: its `sub`, or (RFC 8693 §4.3) its
/// `client_id`. Anything else (no object, neither member a non-empty string) is refused.
fn actor_of(value: &Value, name: &'static str) -> Result<Actor, JwtError> {
    let Value::Object(object) = value else { return Err(JwtError::MalformedClaim(name)) };
    let subject = ["sub", "client_id"]
        .iter()
        .find_map(|member| object.get(*member).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .filter(|s| !s.chars().any(char::is_control))
        .ok_or(JwtError::MalformedClaim(name))?;
    Ok(Actor { subject: subject.to_string(), kind: SubjectKind::Agent })
}

/// Who acts for the token's subject, outermost first. Delegation is decided by the presence
/// of a delegation claim, never by how well it parsed:
/// - RFC 8693 `act` (`{"sub": "agent", "act": {"sub": "outer agent"}}`): every level must name
///   its actor; more than eight levels are refused;
/// - RFC 8693 `may_act` (who may act for the subject): a token carrying it is one meant to be
///   handed to that party, so whoever presents it may be that party; it counts as delegation
///   to the actor it names.
///
/// Any other shape of either claim (`{}`, a string, an array, a number, `null`) refuses the
/// token.
fn actors(claims: &Claims) -> Result<Vec<Actor>, JwtError> {
    let mut chain = Vec::new();
    let mut current = claims.get("act");
    while let Some(act) = current {
        if chain.len() == MAX_ACTORS {
            return Err(JwtError::MalformedClaim("act"));
        }
        chain.push(actor_of(act, "act")?);
        current = act.get("act");
    }
    chain.reverse();
    if let Some(may_act) = claims.get("may_act") {
        let actor = actor_of(may_act, "may_act")?;
        if chain.is_empty() {
            chain.push(actor);
        }
    }
    Ok(chain)
}

/// The kind the provider's `kind_rules` give the token (first match), or its default. A rule
/// whose claim is present but is not a string or an array of strings refuses the token.
fn kind_of(provider: &Provider, claims: &Claims) -> Result<SubjectKind, JwtError> {
    for (path, equals, kind) in &provider.kind_rules {
        let matched = match claim(claims, path) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => s == equals,
            Some(Value::Array(items)) => {
                if items.iter().any(|v| !v.is_string()) {
                    return Err(JwtError::MalformedClaim("kind"));
                }
                items.iter().any(|v| v.as_str() == Some(equals.as_str()))
            }
            Some(_) => return Err(JwtError::MalformedClaim("kind")),
        };
        if matched {
            return Ok(*kind);
        }
    }
    Ok(provider.default_kind)
}

fn from_token(
    provider: &Provider,
    keys: &[jwt::VerifyingKey],
    token: &str,
    now_secs: u64,
) -> Result<IdentityFact, JwtError> {
    let decoded = jwt::decode(token, provider.max_token_bytes)?;
    jwt::verify(&decoded, keys, &provider.allowed)?;
    provider.rules.check(&decoded.header, &decoded.claims, now_secs)?;
    let claims = &decoded.claims;
    let subject = claims.get("sub").and_then(Value::as_str).ok_or(JwtError::MissingClaim)?.to_string();
    // A subject is forwarded as a header and stored by services: control characters (NUL,
    // CR, LF) can be neither, and would let one subject pass for another.
    if subject.is_empty() || subject.chars().any(char::is_control) {
        return Err(JwtError::MalformedClaim("sub"));
    }
    let kind = kind_of(provider, claims)?;
    let mut scopes = strings(claims.get("scope"), "scope")?;
    scopes.extend(strings(claims.get("scp"), "scp")?);
    Ok(IdentityFact {
        v: VERSION,
        subject,
        issuer: provider.rules.issuer.clone(),
        kind,
        actors: actors(claims)?,
        groups: strings(claim(claims, &provider.groups_path), "groups")?,
        scopes,
        method: IdentityMethod::Jwt,
        expires_at: claims.get("exp").and_then(Value::as_f64).map(|e| e as u64),
        claims: provider.claims.iter().filter_map(|name| claims.get(name).map(|v| (name.clone(), v.clone()))).collect(),
    })
}

/// What the JWT providers made of a request.
#[derive(Debug)]
pub enum JwtOutcome {
    /// No provider found a token.
    Absent,
    /// Verified (or answered from the cache).
    Verified(Arc<Verified>),
    /// A token was present and refused.
    Refused(Refusal),
    /// The provider's key set must be fetched (none yet, stale, or an unknown `kid`).
    NeedKeys(usize),
    /// No key set could be had (the last fetch failed moments ago).
    KeysUnavailable,
}

/// The `iss` claim of a token, read without verifying it: only to choose among providers
/// that take tokens from the same place (verification checks it again).
fn unverified_issuer(token: &str, max_bytes: usize) -> Option<String> {
    let decoded = jwt::decode(token, max_bytes).ok()?;
    decoded.claims.get("iss").and_then(Value::as_str).map(str::to_owned)
}

/// Tries every JWT provider in order; a token verified before (and not expired) comes from
/// the VM's token cache without a signature check. When several providers read tokens from
/// the same place, a token goes to the one whose `issuer` its `iss` names (as Envoy's
/// `jwt_authn` chooses); a token no provider's issuer matches is refused.
pub fn jwt(identity: &Identity, request: &dyn RequestView, now_secs: u64, vm: &mut IdentityVm) -> JwtOutcome {
    let mut other_issuer = false;
    for (index, provider) in identity.providers.iter().enumerate() {
        let Some(found) = token(provider, request) else { continue };
        let token = match found {
            Ok(token) => token,
            Err(refusal) => return JwtOutcome::Refused(refusal),
        };
        if let Some(verified) = vm.cache.get(index, token, now_secs) {
            return JwtOutcome::Verified(verified);
        }
        if identity.providers.len() > 1 {
            let issuer = unverified_issuer(token, provider.max_token_bytes);
            if issuer.as_ref().is_some_and(|iss| *iss != provider.rules.issuer) {
                other_issuer = true;
                continue;
            }
        }
        let Some(fetched) = vm.fetched.get(index) else { return JwtOutcome::KeysUnavailable };
        let keys = match &provider.remote {
            None => &provider.keys,
            Some(remote) => {
                let may_fetch = now_secs.saturating_sub(fetched.attempted_at) >= remote.min_refetch_secs
                    || fetched.attempted_at == 0;
                let stale = now_secs >= fetched.fetched_at + remote.ttl_secs;
                if fetched.keys.is_empty() {
                    return if may_fetch { JwtOutcome::NeedKeys(index) } else { JwtOutcome::KeysUnavailable };
                }
                if stale && may_fetch {
                    return JwtOutcome::NeedKeys(index);
                }
                &fetched.keys
            }
        };
        let result = from_token(provider, keys, token, now_secs);
        if result == Err(JwtError::UnknownKey)
            && provider
                .remote
                .as_ref()
                .is_some_and(|r| now_secs.saturating_sub(fetched.attempted_at) >= r.min_refetch_secs)
        {
            return JwtOutcome::NeedKeys(index); // Keys may have rotated: fetch again (rate-limited).
        }
        return match result {
            Ok(fact) => {
                let exp = fact.expires_at.unwrap_or(0);
                let remove_header = match (&provider.source, provider.forward_token) {
                    (TokenSource::Header { name, .. }, false) => Some(name.clone()),
                    _ => None,
                };
                let verified = Verified::new(fact, &identity.headers, remove_header);
                vm.cache.put(index, token, verified.clone(), exp);
                JwtOutcome::Verified(verified)
            }
            Err(e) => JwtOutcome::Refused(Refusal { reason: e.to_string() }),
        };
    }
    if other_issuer {
        return JwtOutcome::Refused(Refusal { reason: "no provider accepts tokens from this issuer".into() });
    }
    JwtOutcome::Absent
}

/// Looks the API key up by its SHA-256, comparing every configured hash in constant time.
pub fn api_key(identity: &Identity, request: &dyn RequestView) -> Option<Result<Arc<Verified>, Refusal>> {
    let (header, keys) = identity.api_keys.as_ref()?;
    let presented = request.header(header)?;
    if request.headers().iter().filter(|(k, _)| k == header).count() > 1 {
        return Some(Err(Refusal { reason: format!("more than one {header} header") }));
    }
    let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
    let mut found: Option<&ApiKey> = None;
    for key in keys {
        if bool::from(key.sha256.ct_eq(&digest)) {
            found = Some(key);
        }
    }
    Some(match found {
        Some(key) => Ok(Verified::new(
            IdentityFact {
                v: VERSION,
                subject: key.subject.clone(),
                issuer: "api_key".into(),
                kind: key.kind,
                actors: Vec::new(),
                groups: key.groups.clone(),
                scopes: Vec::new(),
                method: IdentityMethod::ApiKey,
                expires_at: None,
                claims: Default::default(),
            },
            &identity.headers,
            Some(header.clone()),
        )),
        None => Err(Refusal { reason: "unknown API key".into() }),
    })
}

/// The SPIFFE ID of the mTLS peer, if the connection has one.
pub fn spiffe(identity: &Identity, request: &dyn RequestView) -> Option<Result<Arc<Verified>, Refusal>> {
    let (domains, kind) = identity.spiffe.as_ref()?;
    let san = request.property(&["connection", "uri_san_peer_certificate"])?;
    let san = String::from_utf8_lossy(&san).into_owned();
    let rest = san.strip_prefix("spiffe://")?;
    let domain = rest.split('/').next().unwrap_or_default();
    if !domains.iter().any(|d| d == domain) {
        return Some(Err(Refusal { reason: "untrusted SPIFFE trust domain".into() }));
    }
    Some(Ok(Verified::new(
        IdentityFact {
            v: VERSION,
            subject: san.clone(),
            issuer: format!("spiffe://{domain}"),
            kind: *kind,
            actors: Vec::new(),
            groups: Vec::new(),
            scopes: Vec::new(),
            method: IdentityMethod::Mtls,
            expires_at: None,
            claims: Default::default(),
        },
        &identity.headers,
        None,
    )))
}
