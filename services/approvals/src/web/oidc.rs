//! OpenID Connect login for the web pages: the authorization code flow with PKCE (S256),
//! `state` and `nonce`. The provider's endpoints come from its discovery document; the ID
//! token is verified by the approvers' verifier (the identity core: signature, issuer,
//! audience = our client id, expiry), then its `nonce` and `auth_time` are read. Blocking
//! HTTP (ureq): call these off the async runtime.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The parts of the provider's discovery document used here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser logs in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
}

/// Why a login failed (shown to the person; never holds a token or secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The provider could not be reached or answered badly.
    #[error("the identity provider is unavailable: {0}")]
    Provider(String),
    /// The provider's answer or the ID token did not check out.
    #[error("the login could not be verified: {0}")]
    Invalid(String),
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What an authorization request asks for.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest<'a> {
    /// Our client id.
    pub client_id: &'a str,
    /// Our callback URL.
    pub redirect_uri: &'a str,
    /// Scopes (`openid` first).
    pub scopes: &'a [String],
    /// Anti-forgery state.
    pub state: &'a str,
    /// Replay protection for the ID token.
    pub nonce: &'a str,
    /// PKCE verifier (its S256 challenge is sent).
    pub verifier: &'a str,
    /// Step-up: ask the provider to authenticate the person again (`prompt=login`,
    /// `max_age=0`).
    pub fresh: bool,
}

/// The URL the browser is sent to.
pub fn authorize_url(discovery: &Discovery, request: &AuthorizeRequest<'_>) -> String {
    let sep = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
        discovery.authorization_endpoint,
        encode(request.client_id),
        encode(request.redirect_uri),
        encode(&request.scopes.join(" ")),
        encode(request.state),
        encode(request.nonce),
        challenge(request.verifier),
    );
    if request.fresh {
        url.push_str("&prompt=login&max_age=0");
    }
    url
}

fn agent(timeout: Duration) -> ureq::Agent {
    warden_service_shared::http_client::agent(Some(timeout))
}

/// Fetches and checks the discovery document (its issuer must be `issuer`).
pub fn discover(url: &str, issuer: &str, timeout: Duration) -> Result<Discovery, LoginError> {
    let mut response = agent(timeout).get(url).call().map_err(|e| LoginError::Provider(e.to_string()))?;
    if response.status() != 200 {
        return Err(LoginError::Provider(format!("discovery answered {}", response.status())));
    }
    let text = response.body_mut().read_to_string().map_err(|e| LoginError::Provider(e.to_string()))?;
    let discovery: Discovery =
        serde_json::from_str(&text).map_err(|_| LoginError::Provider("discovery document unreadable".into()))?;
    if discovery.issuer != issuer {
        return Err(LoginError::Invalid("the discovery document names another issuer".into()));
    }
    Ok(discovery)
}

/// The token endpoint's answer (only the ID token is used: the service calls no API for the
/// person).
#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

/// Exchanges an authorization code (with the PKCE verifier; client secret sent in the body,
/// `client_secret_post`) for the ID token.
pub fn exchange(
    discovery: &Discovery,
    client_id: &str,
    client_secret: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    timeout: Duration,
) -> Result<String, LoginError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("code_verifier", verifier),
    ];
    let mut response = agent(timeout)
        .post(&discovery.token_endpoint)
        .send_form(form)
        .map_err(|e| LoginError::Provider(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| LoginError::Provider(e.to_string()))?;
    if status != 200 {
        return Err(LoginError::Invalid(format!("the token endpoint refused the code ({status})")));
    }
    let answer: TokenResponse =
        serde_json::from_str(&text).map_err(|_| LoginError::Invalid("unreadable token response".into()))?;
    answer.id_token.ok_or_else(|| LoginError::Invalid("no id_token in the token response".into()))
}

/// Claims of a verified ID token read after verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LoginClaims {
    /// The nonce sent with the authorization request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// When the person authenticated.
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// When the token was issued.
    #[serde(default)]
    pub iat: Option<u64>,
    /// The person's email.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the provider verified the email (absent: taken as verified by the provider
    /// the service trusts; `false`: not used).
    #[serde(default)]
    pub email_verified: Option<bool>,
}

/// What the login learned beyond the identity: when the person authenticated, and their
/// verified email (used to recognise them in chat channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFacts {
    /// `auth_time`, else `iat`.
    pub auth_time: u64,
    /// The email, unless the provider says it is not verified.
    pub email: Option<String>,
}

/// The claims of an ID token whose signature was already verified; `nonce` must match.
pub fn check_claims(id_token: &str, nonce: &str) -> Result<LoginFacts, LoginError> {
    let payload = id_token.split('.').nth(1).ok_or_else(|| LoginError::Invalid("not a JWT".into()))?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LoginError::Invalid("not a JWT".into()))?;
    let claims: LoginClaims =
        serde_json::from_slice(&bytes).map_err(|_| LoginError::Invalid("unreadable claims".into()))?;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(LoginError::Invalid("the ID token's nonce is not this login's".into()));
    }
    let auth_time = claims
        .auth_time
        .or(claims.iat)
        .ok_or_else(|| LoginError::Invalid("the ID token has no auth_time or iat".into()))?;
    let email = claims.email.filter(|e| e.contains('@') && claims.email_verified != Some(false));
    Ok(LoginFacts { auth_time, email })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_authorize_url_carries_state_nonce_and_challenge_encoded() {
        let discovery = Discovery {
            issuer: "https://idp".into(),
            authorization_endpoint: "https://idp/authorize".into(),
            token_endpoint: "https://idp/token".into(),
        };
        let scopes = vec!["openid".to_string(), "email".to_string()];
        let request = AuthorizeRequest {
            client_id: "warden",
            redirect_uri: "https://approvals.example.com/ui/callback",
            scopes: &scopes,
            state: "st&ate",
            nonce: "n1",
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            fresh: true,
        };
        let url = authorize_url(&discovery, &request);
        assert!(url.starts_with("https://idp/authorize?response_type=code&client_id=warden&"), "{url}");
        for part in [
            "redirect_uri=https%3A%2F%2Fapprovals.example.com%2Fui%2Fcallback",
            "scope=openid%20email",
            "state=st%26ate",
            "nonce=n1",
            "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method=S256",
            "prompt=login&max_age=0",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
    }

    #[test]
    fn the_nonce_must_be_this_logins() {
        let token = |claims: &str| format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        let facts = |auth_time, email: Option<&str>| Ok(LoginFacts { auth_time, email: email.map(str::to_owned) });
        assert_eq!(check_claims(&token(r#"{"nonce":"n1","auth_time":5,"iat":9}"#), "n1"), facts(5, None));
        assert_eq!(
            check_claims(&token(r#"{"nonce":"n1","iat":9,"email":"b@x.org"}"#), "n1"),
            facts(9, Some("b@x.org"))
        );
        let unverified = r#"{"nonce":"n1","iat":9,"email":"b@x.org","email_verified":false}"#;
        assert_eq!(check_claims(&token(unverified), "n1"), facts(9, None));
        assert!(check_claims(&token(r#"{"nonce":"n2","iat":9}"#), "n1").is_err());
        assert!(check_claims(&token(r#"{"iat":9}"#), "n1").is_err());
    }
}
