//! Signing in and out. A token typed into the sign-in form is exchanged for a session: the browser
//! keeps a random session id in an HttpOnly, SameSite=Strict cookie (`Secure` and `__Host-` under
//! TLS), the store keeps its SHA-256 and the token's. Every request authenticates the token again
//! (a revoked or expired token ends its sessions at once) and takes its rate limit. The sign-in form
//! itself carries a nonce matched against a short-lived cookie (no signing in a victim as someone
//! else from another site), and sign-out carries the session's form token.

use std::time::Duration;

use auditrail_core::Timestamp;
use auditrail_core::session::{Session, SessionSecret};
use auditrail_core::token::TokenSecret;
use auditrail_store::Principal;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::html;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::{html, layout};
use crate::AppState;
use crate::auth::readable_kinds;

/// How long a session lasts at most (never beyond its token).
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a sign-in form stays usable.
const SIGNIN_NONCE_LIFETIME: Duration = Duration::from_secs(3600);
const SESSION_COOKIE: &str = "auditrail_session";
/// The name under TLS: browsers accept a `__Host-` cookie only from a secure origin, for the
/// whole host, so no other path or subdomain can set or shadow it.
const SECURE_SESSION_COOKIE: &str = "__Host-auditrail_session";
const SIGNIN_COOKIE: &str = "auditrail_signin";

/// Set on requests that arrived over TLS (by the listener).
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// A signed-in browser: the token's principal and the session it signed in with.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub session: Session,
    id: SessionSecret,
    secure: bool,
}

/// What happens to a request without a valid session: pages send the browser to sign in.
pub struct SignInRequired;

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        Redirect::to("/ui/signin").into_response()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secure = is_secure(parts, state);
        let Some(id) = cookie(&parts.headers, session_cookie_name(secure)).and_then(SessionSecret::parse) else {
            return Err(SignInRequired.into_response());
        };
        let now = Timestamp::now();
        let session = state.store.session(&id.hash(), now).await.map_err(|e| PageError::from(e).into_response())?;
        let Some(session) = session else { return Err(SignInRequired.into_response()) };
        let principal = state
            .store
            .authenticate(&session.token, now)
            .await
            .map_err(|e| PageError::from(e).into_response())?
            .ok_or_else(|| SignInRequired.into_response())?;
        if let Some(limiter) = &state.limiter
            && let Err(seconds) = limiter.check(&principal.token.token_id)
        {
            let mut response =
                PageError::new(StatusCode::TOO_MANY_REQUESTS, format!("Too many requests; try again in {seconds} s."))
                    .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Err(response);
        }
        Ok(Self { principal, session, id, secure })
    }
}

impl Viewer {
    /// Whether a submitted form token is this session's.
    pub fn form_token_matches(&self, submitted: &str) -> bool {
        bool::from(submitted.as_bytes().ct_eq(self.session.csrf.as_bytes()))
    }
}

fn is_secure(parts: &Parts, state: &AppState) -> bool {
    parts.extensions.get::<OverTls>().is_some()
        || crate::urls::request_base(state.config.public_url.as_ref(), state.config.trust_proxy, &parts.headers)
            .is_ok_and(|base| base.is_https())
}

fn session_cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// The value of cookie `name` among the request's cookies.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(n, v)| (n == name).then_some(v))
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let raw = format!("{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}", max_age.as_secs());
    HeaderValue::from_str(&raw).unwrap_or_else(|_| HeaderValue::from_static("auditrail_invalid=; Max-Age=0"))
}

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `GET /ui/signin`: the form, with a fresh nonce.
pub async fn signin_page(State(state): State<AppState>, parts: Parts) -> Response {
    let secure = is_secure(&parts, &state);
    let signed_out = parts.uri.query().is_some_and(|q| q.split('&').any(|p| p == "signedout=1"));
    let notice = signed_out.then_some(Notice::Info("You are signed out."));
    signin_form(secure, StatusCode::OK, notice)
}

enum Notice {
    Info(&'static str),
    Error(String),
}

fn signin_form(secure: bool, status: StatusCode, notice: Option<Notice>) -> Response {
    let nonce = random_text();
    let body = html! {
        h1 { "Sign in" }
        @match &notice {
            Some(Notice::Info(text)) => p.notice role="status" { (text) },
            Some(Notice::Error(text)) => p.notice.error #signin-error role="alert" { (text) },
            None => {},
        }
        form.signin method="post" action="/ui/signin" {
            input type="hidden" name="nonce" value=(nonce);
            label for="token" { "Access token" }
            input #token type="password" name="token" autocomplete="off" required
                aria-describedby="token-help" aria-invalid=[notice.as_ref().and_then(|n| matches!(n, Notice::Error(_)).then_some("true"))];
            p #token-help .help {
                "An auditrail token with a read scope (it starts with " code { "atr_" } "). "
                "It is exchanged for a session; the browser never stores the token."
            }
            button type="submit" { "Sign in" }
        }
    };
    let mut response = html(layout::page("Sign in", None, body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, &nonce, "/ui/signin", SIGNIN_NONCE_LIFETIME, secure));
    response
}

/// The fields of a posted form (the body is small: the route's body limit is 16 KiB).
fn form_fields(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// `POST /ui/signin`: token in, session cookie out.
pub async fn signin(State(state): State<AppState>, parts: Parts, body: axum::body::Bytes) -> Response {
    let secure = is_secure(&parts, &state);
    let (mut token, mut nonce) = (String::new(), String::new());
    for (name, value) in form_fields(&body) {
        match name.as_str() {
            "token" => token = value,
            "nonce" => nonce = value,
            _ => {}
        }
    }
    let expected = cookie(&parts.headers, SIGNIN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
        let message = "The sign-in form has expired or did not come from this server; please sign in again.";
        return signin_form(secure, StatusCode::FORBIDDEN, Some(Notice::Error(message.to_owned())));
    }
    let refuse = |message: &str| signin_form(secure, StatusCode::UNAUTHORIZED, Some(Notice::Error(message.to_owned())));
    let Some(secret) = TokenSecret::parse(token.trim()) else {
        return refuse("That is not an auditrail access token: tokens start with atr_ followed by 43 characters.");
    };
    let now = Timestamp::now();
    let principal = match state.store.authenticate(&secret.hash(), now).await {
        Ok(Some(principal)) => principal,
        Ok(None) => return refuse("This token is not valid: it is unknown, revoked or expired."),
        Err(e) => return PageError::from(e).into_response(),
    };
    if readable_kinds(&principal).len() <= 1 {
        return refuse("This token cannot read the trail: it has no read scope.");
    }
    let lifetime_end = now.saturating_add_millis(SESSION_LIFETIME.as_millis() as i64);
    let expires = principal.token.expires.map_or(lifetime_end, |token_end| token_end.min(lifetime_end));
    let id = SessionSecret::from_random({
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        bytes
    });
    let session = Session { token: secret.hash(), csrf: random_text(), created: now, expires };
    if let Err(e) = state.store.create_session(&id.hash(), &session).await {
        return PageError::from(e).into_response();
    }
    let seconds = u64::try_from(expires.millis().saturating_sub(now.millis()) / 1000).unwrap_or(0);
    let mut response = Redirect::to("/ui/events").into_response();
    let headers = response.headers_mut();
    let name = session_cookie_name(secure);
    headers.append(header::SET_COOKIE, set_cookie(name, id.expose(), "/", Duration::from_secs(seconds), secure));
    headers.append(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, "", "/ui/signin", Duration::ZERO, secure));
    response
}

/// `POST /ui/signout`: ends the session in the store (a copied cookie stops working too).
pub async fn signout(State(state): State<AppState>, viewer: Viewer, body: axum::body::Bytes) -> Response {
    let submitted = form_fields(&body).find_map(|(k, v)| (k == "csrf").then_some(v)).unwrap_or_default();
    if !viewer.form_token_matches(&submitted) {
        return PageError::new(StatusCode::FORBIDDEN, "This form did not come from this session; nothing was changed.")
            .into_response();
    }
    if let Err(e) = state.store.end_session(&viewer.id.hash()).await {
        return PageError::from(e).into_response();
    }
    let mut response = Redirect::to("/ui/signin?signedout=1").into_response();
    let name = session_cookie_name(viewer.secure);
    response.headers_mut().append(header::SET_COOKIE, set_cookie(name, "", "/", Duration::ZERO, viewer.secure));
    response
}

/// What a page reading the trail starts from: who is signed in, who is asking (for the access
/// log), and the query string.
pub struct PageRequest {
    pub viewer: Viewer,
    pub meta: crate::access_log::RequestMeta,
    pub query: crate::params::QueryParams,
}

impl FromRequestParts<AppState> for PageRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let meta = match crate::access_log::RequestMeta::from_request_parts(parts, state).await {
            Ok(meta) => meta,
            Err(never) => match never {},
        };
        let query = crate::params::QueryParams::parse(parts.uri.query());
        Ok(Self { viewer, meta, query })
    }
}
