//! Errors of the viewer, as pages: the same statuses and messages as the API's, in HTML.

use auditrail_core::error::ParamError;
use auditrail_store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{html, layout};
use crate::error::ApiError;

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self::new(e.status, e.message)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ParamError> for PageError {
    fn from(e: ParamError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (title) }
            p.notice.error role="alert" { (self.message) }
            p { a href="/ui/events" { "Back to the events" } }
        };
        let mut response = html(layout::page(title, None, body));
        *response.status_mut() = self.status;
        response
    }
}
