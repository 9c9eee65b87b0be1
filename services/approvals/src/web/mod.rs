//! The approvers' web pages under `/ui`: an inbox, a page per approval with approve and deny,
//! OpenID Connect login (code flow with PKCE), signed `HttpOnly; Secure; SameSite=Strict`
//! session cookies, a CSRF token in every form, logout, and step-up (`max_auth_age_secs`).
//! Decisions go through the same store and rules as the JSON API, recorded with channel `web`.

pub mod oidc;
pub mod pages;
pub mod session;

use crate::auth::Caller;
use crate::config::Web;
use crate::core::approval::Approval;
use crate::core::decide::VoteRequest;
use crate::core::tally::VoteDecision;
use crate::http::extract::Source;
use crate::http::App;
use crate::store::Ballot;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use oidc::{AuthorizeRequest, Discovery};
use serde::Deserialize;
use session::{Login, Session, SessionKey, LOGIN_COOKIE, LOGIN_TTL_SECS, SESSION_COOKIE};
use std::sync::{Arc, Mutex};
use warden_kit::ConfigError;
use warden_service_shared::secrets::seed_file;

/// The pages' runtime: configuration, the session key and client secret read at start, and
/// the provider's discovery document once fetched.
pub struct WebApp {
    /// Compiled configuration.
    pub config: Web,
    key: SessionKey,
    client_secret: String,
    discovery: Mutex<Option<Discovery>>,
}

impl std::fmt::Debug for WebApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApp").field("issuer", &self.config.issuer).finish()
    }
}

impl WebApp {
    /// Reads the session key (created when absent) and the client secret; errors name the
    /// field, never the secret.
    pub fn open(config: Web) -> Result<WebApp, ConfigError> {
        let key = SessionKey::new(seed_file(&config.session_key_file, "web.session_key_file")?);
        let client_secret = warden_service_shared::secrets::secret_file(
            &config.client_secret_file,
            "web.oidc.client_secret_file".into(),
        )?;
        Ok(WebApp { config, key, client_secret, discovery: Mutex::new(None) })
    }

    fn redirect_uri(&self, app: &App) -> String {
        format!("{}/ui/callback", app.service.public_url)
    }

    /// The discovery document (fetched once, then kept).
    async fn discovery(&self) -> Result<Discovery, oidc::LoginError> {
        if let Some(known) = self.discovery.lock().ok().and_then(|d| d.clone()) {
            return Ok(known);
        }
        let (url, issuer, timeout) =
            (self.config.discovery_url.clone(), self.config.issuer.clone(), self.config.timeout);
        let found = tokio::task::spawn_blocking(move || oidc::discover(&url, &issuer, timeout))
            .await
            .map_err(|_| oidc::LoginError::Provider("discovery did not finish".into()))??;
        if let Ok(mut slot) = self.discovery.lock() {
            *slot = Some(found.clone());
        }
        Ok(found)
    }
}

/// The `/ui` routes (answer 404 when the pages are not configured).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/ui", get(inbox))
        .route("/ui/login", get(login))
        .route("/ui/callback", get(callback))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/approvals/{id}", get(page).post(decide))
}

/// An HTML answer with the headers every page carries: no caching, no framing, no scripts.
fn html(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, pages::message(title, text))
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn not_configured() -> Response {
    message(StatusCode::NOT_FOUND, "Not found", "The web pages are not configured.")
}

fn current_session(web: &WebApp, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    cookies
        .iter()
        .find_map(|h| session::cookie(h, SESSION_COOKIE))
        .and_then(|value| web.key.open_session(value, crate::unix_now()))
}

/// A path on this service to return to after login (anything else: the inbox).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.contains("//") && !n.contains('\\') => n.to_string(),
        _ => "/ui".to_string(),
    }
}

fn to_login(next: &str) -> Response {
    see_other(&format!("/ui/login?next={next}"))
}

async fn inbox(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    let Some(session) = current_session(web, &headers) else { return to_login("/ui") };
    let person = session.approver();
    let now = crate::unix_now();
    let pending = match app.store.pending(now, 500).await {
        Ok(p) => p,
        Err(_) => return message(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "The database is unavailable."),
    };
    let (mut to_decide, mut mine): (Vec<Approval>, Vec<Approval>) = (Vec::new(), Vec::new());
    for approval in pending {
        if approval.requester.involves(&person.subject) {
            mine.push(approval);
        } else if crate::core::approver::may_vote(&person, &approval).is_ok()
            && !approval.votes.iter().any(|v| v.subject == person.subject)
        {
            to_decide.push(approval);
        }
    }
    html(StatusCode::OK, pages::inbox(&person, &web.key.csrf(&session), &to_decide, &mine))
}

/// `GET /ui/login` query.
#[derive(Debug, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    /// Step-up: make the provider authenticate the person again.
    #[serde(default)]
    fresh: Option<String>,
}

async fn login(State(app): State<Arc<App>>, Query(q): Query<LoginQuery>) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    let discovery = match web.discovery().await {
        Ok(d) => d,
        Err(e) => return message(StatusCode::SERVICE_UNAVAILABLE, "Cannot sign in", &e.to_string()),
    };
    let tokens = (session::random_token(32), session::random_token(32), session::random_token(32));
    let (Some(state), Some(nonce), Some(verifier)) = tokens else {
        return message(StatusCode::SERVICE_UNAVAILABLE, "Cannot sign in", "No randomness is available.");
    };
    let next = local_path(q.next.as_deref());
    let redirect_uri = web.redirect_uri(&app);
    let url = oidc::authorize_url(
        &discovery,
        &AuthorizeRequest {
            client_id: &web.config.client_id,
            redirect_uri: &redirect_uri,
            scopes: &web.config.scopes,
            state: &state,
            nonce: &nonce,
            verifier: &verifier,
            fresh: q.fresh.is_some(),
        },
    );
    let flow = Login { state, nonce, verifier, next, exp: crate::unix_now() + LOGIN_TTL_SECS };
    let mut response = see_other(&url);
    set_cookie(&mut response, &session::set_cookie(LOGIN_COOKIE, &web.key.seal_login(&flow), "Lax", LOGIN_TTL_SECS));
    response
}

/// `GET /ui/callback` query.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

async fn callback(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<CallbackQuery>) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    let refused = |text: &str| message(StatusCode::UNAUTHORIZED, "Sign-in failed", text);
    let flow = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie(h, LOGIN_COOKIE).map(str::to_owned))
        .and_then(|value| web.key.open_login(&value, crate::unix_now()));
    let Some(flow) = flow else { return refused("This sign-in was not started here, or took too long. Start again.") };
    if let Some(error) = q.error {
        let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return refused(&format!("The identity provider refused the sign-in ({error})."));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else { return refused("The provider sent no code.") };
    if !bool::from(subtle::ConstantTimeEq::ct_eq(state.as_bytes(), flow.state.as_bytes())) {
        return refused("The sign-in state does not match. Start again.");
    }
    let discovery = match web.discovery().await {
        Ok(d) => d,
        Err(e) => return message(StatusCode::SERVICE_UNAVAILABLE, "Cannot sign in", &e.to_string()),
    };
    let app2 = app.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let Some(web) = app2.web.as_ref() else { return Err("the web pages are not configured".to_string()) };
        let redirect_uri = web.redirect_uri(&app2);
        let id_token = oidc::exchange(
            &discovery,
            &web.config.client_id,
            &web.client_secret,
            &redirect_uri,
            &code,
            &flow.verifier,
            web.config.timeout,
        )
        .map_err(|e| e.to_string())?;
        let now = crate::unix_now();
        let person = crate::auth::person(&app2.service, &id_token, now).map_err(|e| e.0)?;
        let facts = oidc::check_claims(&id_token, &flow.nonce).map_err(|e| e.to_string())?;
        Ok((person, facts, flow.next))
    })
    .await;
    let (person, facts, next) = match verified {
        Ok(Ok(done)) => done,
        Ok(Err(why)) => return refused(&why),
        Err(_) => return message(StatusCode::SERVICE_UNAVAILABLE, "Cannot sign in", "The sign-in did not finish."),
    };
    let Some(sid) = session::random_token(24) else {
        return message(StatusCode::SERVICE_UNAVAILABLE, "Cannot sign in", "No randomness is available.");
    };
    let auth_time = facts.auth_time;
    if let Some(email) = &facts.email {
        // How a chat user's verified email is matched to this person later (Slack).
        if let Err(e) = app.store.remember_person(&person, email, crate::unix_now()).await {
            eprintln!("warden approvals: remembering a login: {e}");
        }
    }
    let ttl = web.config.session_ttl_secs;
    let signed_in = Session {
        sub: person.subject,
        iss: person.issuer,
        kind: person.kind,
        delegated: person.delegated,
        groups: person.groups,
        auth_time,
        exp: crate::unix_now() + ttl,
        sid,
    };
    let mut response = html(StatusCode::OK, pages::continue_to(&next));
    set_cookie(&mut response, &session::set_cookie(SESSION_COOKIE, &web.key.seal_session(&signed_in), "Strict", ttl));
    set_cookie(&mut response, &session::set_cookie(LOGIN_COOKIE, "", "Lax", 0));
    response
}

async fn page(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    let Some(session) = current_session(web, &headers) else { return to_login(&format!("/ui/approvals/{id}")) };
    let person = session.approver();
    let approval = match app.store.get(&id).await {
        Ok(Some(a)) if crate::http::handlers::may_read(&app, &Caller::Person(person.clone()), &a) => a,
        Ok(_) => return message(StatusCode::NOT_FOUND, "Not found", "No such approval, or not one you may see."),
        Err(_) => return message(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "The database is unavailable."),
    };
    let now = crate::unix_now();
    let history = app.store.history(&approval.id).await.unwrap_or_default();
    let standing = pages::standing(&person, &approval, now, session.auth_time, web.config.max_auth_age_secs);
    html(StatusCode::OK, pages::approval_page(&person, &web.key.csrf(&session), &approval, &history, now, &standing))
}

/// The decision form.
#[derive(Debug, Deserialize)]
struct DecideForm {
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

async fn decide(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Source(source): Source,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    let Some(session) = current_session(web, &headers) else {
        return message(StatusCode::UNAUTHORIZED, "Signed out", "Sign in again to decide.");
    };
    if !web.key.csrf_ok(&session, &form.csrf) {
        return message(StatusCode::FORBIDDEN, "Refused", "This form did not come from your session's page.");
    }
    let decision = match form.decision.as_str() {
        "approve" => VoteDecision::Approve,
        "deny" => VoteDecision::Deny,
        _ => return message(StatusCode::BAD_REQUEST, "Refused", "Choose approve or deny."),
    };
    let person = session.approver();
    let now = crate::unix_now();
    let approval = match app.store.get(&id).await {
        Ok(Some(a)) if crate::http::handlers::may_read(&app, &Caller::Person(person.clone()), &a) => a,
        Ok(_) => return message(StatusCode::NOT_FOUND, "Not found", "No such approval, or not one you may see."),
        Err(_) => return message(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "The database is unavailable."),
    };
    if let pages::Standing::MustSignInAgain(_) =
        pages::standing(&person, &approval, now, session.auth_time, web.config.max_auth_age_secs)
    {
        return see_other(&format!("/ui/login?fresh=1&next=/ui/approvals/{id}"));
    }
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    let request = VoteRequest { decision, reason, force: false };
    let ballot = Ballot { who: &person, request, source, channel: "web", auth_time: Some(session.auth_time) };
    match app.store.vote(&id, ballot, now, &app.rules).await {
        Ok(_) => see_other(&format!("/ui/approvals/{id}")),
        Err(e) => message(StatusCode::CONFLICT, "Not recorded", &e.to_string()),
    }
}

/// The logout form.
#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<LogoutForm>) -> Response {
    let Some(web) = app.web.as_ref() else { return not_configured() };
    if let Some(session) = current_session(web, &headers) {
        if !web.key.csrf_ok(&session, &form.csrf) {
            return message(StatusCode::FORBIDDEN, "Refused", "This form did not come from your session's page.");
        }
    }
    let mut response = message(StatusCode::OK, "Signed out", "You are signed out of Warden approvals.");
    set_cookie(&mut response, &session::set_cookie(SESSION_COOKIE, "", "Strict", 0));
    response
}
