//! The viewer's stylesheet and script, compiled into the binary (nothing to build or install).
//! Each is served under a name carrying a hash of its content, so browsers may keep it for a year
//! and a new release is fetched at once.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::PageError;

pub static STYLE: LazyAsset = LazyAsset::new("app", "css", "text/css; charset=utf-8", include_str!("assets/app.css"));
pub static SCRIPT: LazyAsset =
    LazyAsset::new("app", "js", "text/javascript; charset=utf-8", include_str!("assets/app.js"));

pub static ICON: LazyAsset = LazyAsset::new("icon", "svg", "image/svg+xml", include_str!("assets/icon.svg"));

/// An asset whose hashed name is computed on first use.
pub struct LazyAsset {
    stem: &'static str,
    extension: &'static str,
    content_type: &'static str,
    body: &'static str,
    name: std::sync::OnceLock<String>,
}

impl LazyAsset {
    const fn new(stem: &'static str, extension: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Self { stem, extension, content_type, body, name: std::sync::OnceLock::new() }
    }

    fn name(&self) -> &str {
        self.name.get_or_init(|| {
            let digest = Sha256::digest(self.body.as_bytes());
            let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("{}-{hash}.{}", self.stem, self.extension)
        })
    }

    pub fn url(&self) -> String {
        format!("/ui/assets/{}", self.name())
    }
}

/// `GET /ui/assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    for asset in [&STYLE, &SCRIPT, &ICON] {
        if asset.name() == name {
            return (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                    (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
                ],
                asset.body,
            )
                .into_response();
        }
    }
    PageError::not_found("No such file.").into_response()
}
