//! The web viewer at `/ui`: pages rendered on the server (they work with JavaScript off), one
//! small script for what only a browser can do (local times, checking inclusion proofs), and the
//! same org isolation, scopes and access log as the API.
//!
//! Safety comes from the shape: every piece of event content goes through maud's escaping (there
//! is no way to write raw HTML from event data), the Content-Security-Policy allows no inline
//! script or style and nothing from elsewhere, the browser holds only a session id in an HttpOnly,
//! SameSite=Strict cookie (never the token), and every form that changes something carries the
//! session's form token.

mod assets;
mod detail;
mod error;
mod events;
mod export;
mod layout;
mod overview;
mod proof;
mod session;
mod summary;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

pub use session::{OverTls, Viewer};

/// What a page may load: its own script and style, nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The viewer's routes; merged into the API router, so they share its admission, timeout and
/// tracking layers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/events") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/events") }))
        .route("/ui/signin", get(session::signin_page).post(session::signin))
        .route("/ui/signout", post(session::signout))
        .route("/ui/events", get(events::list))
        .route("/ui/overview", get(overview::page))
        .route("/ui/events/{kind}/{id}", get(detail::page))
        .route("/ui/export", get(export::export))
        .route("/ui/proof/{kind}/{id}", get(proof::inclusion))
        .route("/ui/assets/{name}", get(assets::serve))
        .route("/ui/{*rest}", get(|| async { error::PageError::not_found("There is no such page.") }))
        // A sign-in form is a token and a nonce; nothing larger is ever posted here.
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    // Every response of the viewer is meant for a person as it is: its errors are pages.
    response.extensions_mut().insert(crate::tracking::OwnErrorBody);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    // Pages show audit data: never kept by a shared cache or the browser's back-forward store.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// An HTML page as a response.
fn html(markup: maud::Markup) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], markup.into_string())
        .into_response()
}
