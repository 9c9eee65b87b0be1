//! Signed cookies of the web pages: a person's session after login, and the short-lived
//! state of a login in progress. Both are JSON signed with HMAC-SHA256 under the service's web
//! session key (`base64url(json).base64url(mac)`); a cookie whose MAC does not verify, or
//! that has expired, is no cookie at all. Pure: time and randomness are inputs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use warden_kit::facts::SubjectKind;

use crate::core::approver::Approver;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "warden_session";
/// Name of the login-in-progress cookie.
pub const LOGIN_COOKIE: &str = "warden_login";
/// How long a login may take at the identity provider, seconds.
pub const LOGIN_TTL_SECS: u64 = 600;

/// The key cookies are signed with (32 bytes from `web.session_key_file`; every replica
/// shares the file).
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A signed-in person, as the verified ID token said at login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The signed-in person's subject (from the ID token).
    pub sub: String,
    /// The ID token's issuer.
    pub iss: String,
    /// Kind (from the provider's kind rules).
    pub kind: SubjectKind,
    /// The ID token named someone acting for the subject.
    pub delegated: bool,
    /// The person's groups, as the ID token gave them.
    pub groups: Vec<String>,
    /// When the person last authenticated at the provider (`auth_time`, else the token's
    /// `iat`), seconds since the epoch: what step-up compares against.
    pub auth_time: u64,
    /// Session end, seconds since the epoch.
    pub exp: u64,
    /// Random session id (the CSRF token is derived from it).
    pub sid: String,
}

impl Session {
    /// The person, for the core's eligibility rules.
    pub fn approver(&self) -> Approver {
        Approver {
            subject: self.sub.clone(),
            issuer: self.iss.clone(),
            kind: self.kind,
            delegated: self.delegated,
            groups: self.groups.clone(),
        }
    }
}

/// A login in progress: what the callback must see again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// `state` sent to the provider.
    pub state: String,
    /// `nonce` the ID token must carry.
    pub nonce: String,
    /// PKCE code verifier.
    pub verifier: String,
    /// Where to go after login (a path on this service).
    pub next: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Something with an expiry.
trait Expiring {
    fn exp(&self) -> u64;
}

impl Expiring for Session {
    fn exp(&self) -> u64 {
        self.exp
    }
}

impl Expiring for Login {
    fn exp(&self) -> u64 {
        self.exp
    }
}

type HmacSha256 = Hmac<Sha256>;

impl SessionKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    /// HMAC-SHA256 of `purpose` and `data` under this key (HMAC takes keys of any length:
    /// never `None` in practice).
    fn mac(&self, purpose: &str, data: &[u8]) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.0).ok()?;
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(data);
        Some(mac)
    }

    fn sign<T: Serialize>(&self, purpose: &str, value: &T) -> String {
        let json = serde_json::to_vec(value).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(&json);
        let tag = self.mac(purpose, body.as_bytes()).map(|m| m.finalize().into_bytes().to_vec()).unwrap_or_default();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    fn open<T: DeserializeOwned + Expiring>(&self, purpose: &str, cookie: &str, now: u64) -> Option<T> {
        let (body, tag) = cookie.split_once('.')?;
        let given = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(purpose, body.as_bytes())?.verify_slice(&given).ok()?;
        let value: T = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (value.exp() > now).then_some(value)
    }

    /// The session cookie's value.
    pub fn seal_session(&self, session: &Session) -> String {
        self.sign("session", session)
    }

    /// The session in a cookie value, if it is ours, intact and current.
    pub fn open_session(&self, cookie: &str, now: u64) -> Option<Session> {
        self.open("session", cookie, now)
    }

    /// The login cookie's value.
    pub fn seal_login(&self, login: &Login) -> String {
        self.sign("login", login)
    }

    /// The login in progress in a cookie value, if ours, intact and current.
    pub fn open_login(&self, cookie: &str, now: u64) -> Option<Login> {
        self.open("login", cookie, now)
    }

    /// The CSRF token of a session: a MAC of its id, sent in every form and checked on every
    /// change.
    pub fn csrf(&self, session: &Session) -> String {
        let tag = self.mac("csrf", session.sid.as_bytes()).map(|m| m.finalize().into_bytes().to_vec());
        URL_SAFE_NO_PAD.encode(tag.unwrap_or_default())
    }

    /// Whether `token` is the session's CSRF token (constant time).
    pub fn csrf_ok(&self, session: &Session, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        !token.is_empty() && bool::from(self.csrf(session).as_bytes().ct_eq(token.as_bytes()))
    }
}

/// A `Set-Cookie` value: `HttpOnly; Secure; Path=/`, with `same_site` (`Strict` for the
/// session; `Lax` for the login cookie, which must come back on the provider's redirect),
/// for `max_age` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, same_site: &str, max_age: u64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite={same_site}; Max-Age={max_age}")
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').map(str::trim).find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// `n` random bytes, base64url: for session ids, states, nonces and PKCE verifiers.
pub fn random_token(n: usize) -> Option<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(exp: u64) -> Session {
        Session {
            sub: "bob".into(),
            iss: "https://idp".into(),
            kind: SubjectKind::Human,
            delegated: false,
            groups: vec!["dba".into()],
            auth_time: 100,
            exp,
            sid: "sid-1".into(),
        }
    }

    #[test]
    fn a_session_opens_only_intact_current_and_under_its_own_key() {
        let key = SessionKey::new([7; 32]);
        let sealed = key.seal_session(&session(1000));
        assert_eq!(key.open_session(&sealed, 999), Some(session(1000)));
        assert_eq!(key.open_session(&sealed, 1000), None, "expired");
        assert_eq!(SessionKey::new([8; 32]).open_session(&sealed, 1), None, "another key");
        // A forged body (groups added) keeps the old MAC: refused.
        let mut forged = session(1000);
        forged.groups.push("sre-breakglass".into());
        let forged_body = key.seal_session(&forged);
        let tampered = format!("{}.{}", forged_body.split('.').next().unwrap(), sealed.split('.').nth(1).unwrap());
        assert_eq!(key.open_session(&tampered, 1), None);
        // A login cookie is not a session (purpose is part of the MAC).
        let login = Login { state: "s".into(), nonce: "n".into(), verifier: "v".into(), next: "/ui".into(), exp: 1000 };
        assert_eq!(key.open_session(&key.seal_login(&login), 1), None);
        assert_eq!(key.open_login(&key.seal_login(&login), 1), Some(login));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let key = SessionKey::new([7; 32]);
        let one = session(1000);
        let mut other = session(1000);
        other.sid = "sid-2".into();
        assert!(key.csrf_ok(&one, &key.csrf(&one)));
        assert!(!key.csrf_ok(&one, &key.csrf(&other)));
        assert!(!key.csrf_ok(&one, ""));
    }

    #[test]
    fn cookies_are_found_by_exact_name_and_set_with_every_flag() {
        assert_eq!(cookie("a=1; warden_session=xyz; b=2", SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie("warden_session_old=1", SESSION_COOKIE), None);
        let set = set_cookie(SESSION_COOKIE, "v", "Strict", 60);
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=60"] {
            assert!(set.contains(flag), "{set}");
        }
    }
}
