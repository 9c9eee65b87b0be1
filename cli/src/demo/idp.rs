//! The demo identity provider: just enough OpenID Connect for people to sign in to the
//! approval pages (discovery, an authorization endpoint with a "sign in as" page, the token
//! endpoint with the authorization code flow, PKCE S256 only, `client_secret_post`, and a JWKS).
//! ID tokens are signed with the demo key. No passwords: anyone can sign in as any demo person,
//! which is why it only ever listens on 127.0.0.1 inside `warden demo`.

use super::browser::encode;
use super::keys::{random_secret, DemoKey};
use super::Person;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The provider's fixed parts.
pub struct Provider {
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    /// The one client (the approval service's web pages).
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Its callback URL.
    pub redirect_uri: String,
    /// Who may sign in.
    pub people: Vec<Person>,
    /// Signs the ID tokens.
    pub key: Arc<DemoKey>,
    /// Print each sign-in and token exchange on stdout (`login <person>`, `token <client_id>
    /// ok` or `token <client_id> <error>`), for tests that check what happened; off in the demo.
    pub announce: bool,
}

struct Grant {
    person: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    auth_time: u64,
}

#[derive(Clone)]
struct Shared {
    provider: Arc<Provider>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
}

/// The provider's routes.
pub fn router(provider: Provider) -> Router {
    let shared = Shared { provider: Arc::new(provider), codes: Arc::default() };
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(shared)
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let issuer = &s.provider.issuer;
    Json(json!({
        "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"], "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"]
    }))
}

async fn jwks(State(s): State<Shared>) -> Response {
    match s.provider.key.jwk() {
        Ok(jwk) => Json(json!({"keys": [jwk]})).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn bad(message: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

async fn authorize_page(State(s): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let p = &s.provider;
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != p.client_id
        || get("redirect_uri") != p.redirect_uri
        || get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
    {
        return bad("invalid authorization request");
    }
    let hidden: String = ["client_id", "redirect_uri", "code_challenge", "state", "nonce"]
        .iter()
        .map(|k| format!(r#"<input type="hidden" name="{k}" value="{}">"#, escape(get(k))))
        .collect();
    let buttons: String = p
        .people
        .iter()
        .map(|person| {
            format!(
                r#"<p><button type="submit" name="person" value="{0}">Sign in as {0}</button> ({1})</p>"#,
                escape(&person.name),
                escape(&person.role)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Demo identity provider</title></head>\
         <body><h1>Demo identity provider</h1><p>No passwords: this provider exists only for the demo.</p>\
         <form method=post action=/authorize>{hidden}{buttons}</form></body></html>"
    ))
    .into_response()
}

async fn authorize(State(s): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let person = get("person");
    if !s.provider.people.iter().any(|p| p.name == person) || get("redirect_uri") != s.provider.redirect_uri {
        return bad("unknown person or redirect");
    }
    let Ok(code) = random_secret(24) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let grant = Grant {
        person,
        redirect_uri: get("redirect_uri"),
        challenge: get("code_challenge"),
        nonce: form.get("nonce").cloned(),
        auth_time: super::unix_now(),
    };
    if s.provider.announce {
        println!("login {}", grant.person);
    }
    if let Ok(mut codes) = s.codes.lock() {
        codes.insert(code.clone(), grant);
    }
    let target = format!("{}?code={}&state={}", s.provider.redirect_uri, encode(&code), encode(&get("state")));
    (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
}

async fn token(State(s): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let grant = s.codes.lock().ok().and_then(|mut codes| codes.remove(get("code"))); // single use
    let p = &s.provider;
    let refuse = |error: &str| {
        if p.announce {
            println!("token {} {error}", get("client_id"));
        }
        (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response()
    };
    let Some(grant) = grant.filter(|_| get("grant_type") == "authorization_code") else {
        return refuse("invalid_grant");
    };
    if get("client_id") != p.client_id || get("client_secret") != p.client_secret {
        return refuse("invalid_client");
    }
    if get("redirect_uri") != grant.redirect_uri
        || URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes())) != grant.challenge
    {
        return refuse("invalid_grant");
    }
    let Some(person) = p.people.iter().find(|person| person.name == grant.person) else {
        return refuse("invalid_grant");
    };
    let now = super::unix_now();
    let mut claims = json!({"iss": p.issuer, "sub": person.name, "aud": p.client_id, "iat": now, "exp": now + 300,
                            "auth_time": grant.auth_time, "groups": person.groups,
                            "email": format!("{}@example.com", person.name)});
    if let Some(nonce) = grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    let Ok(access_token) = random_secret(24) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if p.announce {
        println!("token {} ok", p.client_id);
    }
    Json(json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                "id_token": p.key.sign(&claims)}))
    .into_response()
}

/// `warden demo idp`: the demo provider alone on `listen`, for tests and examples that need
/// people to sign in (`examples/approvals/verify`): one client, the given people (`name` or
/// `name:group,group`), a fresh signing key, sign-ins and token exchanges announced on stdout.
/// Runs until killed; listens on loopback only.
pub fn serve_alone(
    listen: &str,
    client_id: &str,
    secret_file: &std::path::Path,
    redirect_uri: &str,
    people: &[String],
) -> anyhow::Result<bool> {
    use anyhow::Context;
    let address: std::net::SocketAddr = listen.parse().with_context(|| format!("--listen {listen}: an address"))?;
    anyhow::ensure!(address.ip().is_loopback(), "--listen: the demo provider listens on loopback only");
    let client_secret = warden_service_shared::secrets::secret_file(secret_file, "--client-secret-file".into())
        .map_err(|e| anyhow::anyhow!(e.brief()))?;
    let people = people
        .iter()
        .map(|spec| {
            let (name, groups) = spec.split_once(':').unwrap_or((spec, ""));
            let groups: Vec<String> = groups.split(',').filter(|g| !g.is_empty()).map(str::to_string).collect();
            Person { name: name.into(), role: groups.join(", "), groups }
        })
        .collect();
    let provider = Provider {
        issuer: format!("http://{address}"),
        client_id: client_id.into(),
        client_secret,
        redirect_uri: redirect_uri.into(),
        people,
        key: Arc::new(DemoKey::generate()?),
        announce: true,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
        println!("demo identity provider on http://{address}");
        axum::serve(listener, router(provider)).await.context("serving")?;
        Ok(true)
    })
}
