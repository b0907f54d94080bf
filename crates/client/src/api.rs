//! One [`Api`] per server: it owns the base URL and token and runs every request through one
//! retry policy, because every client needs the same behaviour against a busy or flaky server:
//! - 429 is the server asking us to slow down: wait its `Retry-After` (integer seconds, the
//!   Webex convention) and try again, without counting it as a failure;
//! - connection errors and 5xx are retried with exponential backoff up to `retries` times,
//!   except a request that may already have taken effect and is not idempotent (the caller says
//!   so, see [`Retry`]);
//! - any other 4xx is final and becomes a one-line error naming the server's own message
//!   (Webex `message` or Connect `description`) and its tracking id.
//!
//! reqwest with rustls: no OpenSSL on the machine is needed to reach `https://webexapis.com`.
//!
//! The token goes only to the origin (scheme, host, port) the user named (`--server`,
//! `--source`, or a URL they configured explicitly, see [`Api::trusting`]): a server's `Link`
//! or redirect pointing elsewhere is refused before anything is sent, because a hostile or
//! misconfigured server could otherwise collect the token.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use anyhow::{Context, bail};
use auditrail_core::Kind;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

/// Consecutive 429 answers tolerated for one request before giving up (a server that never
/// lets us in is a configuration problem, not load).
const MAX_RATE_LIMITED: u32 = 100;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// When a 429 carries no usable Retry-After.
const DEFAULT_RETRY_AFTER: u64 = 5;
const MAX_RETRY_AFTER: u64 = 300;

/// May a request be sent again after a failure whose outcome is unknown?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads, and writes that are idempotent (ingest of items that all carry ids).
    Always,
    /// Only when the request certainly did not reach the server (connection refused, DNS) or the
    /// server said it did nothing (429, 503).
    IfNotSent,
}

/// A final HTTP error answer; its `Display` is the one line a person reads.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// How the answering end is named in messages ("the server", "the source").
    pub who: String,
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The server's own words, made printable (see [`printable`]) and cut to 600 characters.
    pub message: String,
    /// The server's tracking id of the request (body `trackingId`/`transid`, or the header).
    pub tracking_id: Option<String>,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {}: {}", self.who, self.status, self.message)?;
        if self.status == StatusCode::UNAUTHORIZED {
            write!(f, " (check the token)")?;
        }
        if let Some(t) = &self.tracking_id {
            write!(f, " [TrackingID {t}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

/// A successful answer, body read.
pub(crate) struct Reply {
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// What an auditrail server's ingest API answers for an accepted batch.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Receipt {
    /// Items stored by this request.
    pub accepted: u64,
    /// Items the server already had (same id, same content).
    pub duplicates: u64,
}

/// One server (or source) and the token for it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: String,
    retries: u32,
    /// "the server", "the source": how messages name this end.
    who: String,
    /// "--server", "--source": the flag that named `base`, for messages.
    flag: String,
    /// The origins the token may be sent to: `base`'s, plus any the user configured explicitly.
    trusted: Vec<Url>,
}

/// `http(s)://host[:port][/prefix]` with a trailing `/` or `/v1` removed: users paste
/// `https://webexapis.com/v1/` as often as a bare origin.
pub(crate) fn parse_base(raw: &str, flag: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| anyhow::anyhow!("invalid {flag} '{raw}': {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        bail!("invalid {flag} '{raw}': use an http:// or https:// URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("invalid {flag} '{raw}': a base URL has no query or fragment");
    }
    let mut base = url.clone();
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1").unwrap_or(path);
    base.set_path(path);
    Ok(base)
}

/// `scheme://host[:port]` of a URL, the unit the token is confined to.
pub(crate) fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Redirects stay within the origin of the first request. reqwest drops the Authorization
/// header when the host or port changes, but not on a scheme change on the same port (an https
/// server redirecting to http would get the token sent in clear), and a followed cross-origin
/// redirect would only end in a confusing 401 anyway: refusing it names the real problem.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(origin_of);
        let next = origin_of(attempt.url());
        if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else if first.as_ref().is_some_and(|f| *f != next) {
            let from = first.unwrap_or_default();
            attempt.error(format!("redirected from {from} to {next}, another origin; not following it with the token"))
        } else {
            attempt.follow()
        }
    })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("auditrail/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .redirect(redirect_policy())
        .build()
        .context("cannot set up the HTTP client")
}

impl Api {
    /// The API at `base` (`http(s)://host[:port][/prefix]`; a trailing `/` or `/v1` is dropped).
    /// `flag` is the option that named `base` and `who` how messages name this end ("the
    /// server"); `retries` bounds the retries of failures (429s are waited out, not counted).
    pub fn new(base: &str, flag: &str, token: String, retries: u32, who: &str) -> anyhow::Result<Self> {
        let base = parse_base(base, flag)?;
        Ok(Api {
            http: http_client()?,
            trusted: vec![base.clone()],
            base,
            token,
            retries,
            who: who.to_owned(),
            flag: flag.to_owned(),
        })
    }

    /// Also sends the token to `url`'s origin: for URLs the user configured themselves (such
    /// as `pull --connect-source`), never for URLs a server sent.
    pub(crate) fn trusting(mut self, url: &Url) -> Self {
        if !self.trusts(url) {
            self.trusted.push(url.clone());
        }
        self
    }

    /// May the token be sent to `url`?
    pub(crate) fn trusts(&self, url: &Url) -> bool {
        self.trusted.iter().any(|t| t.origin() == url.origin())
    }

    /// An error unless the token may be sent to `url` (see [`Api::trusts`]); `what` says where
    /// the URL came from, e.g. "the next-page Link of the answer".
    pub(crate) fn check_origin(&self, url: &Url, what: &str) -> anyhow::Result<()> {
        if self.trusts(url) {
            return Ok(());
        }
        bail!(
            "refusing to send the token to {} ({what}): it is only sent to {}, the origin given with {}",
            origin_of(url),
            origin_of(&self.base),
            self.flag
        )
    }

    /// The base URL, as parsed (the identity of this end in pull's state).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The absolute URL of a path such as `/v1/adminAudit/events` on this server.
    pub(crate) fn url(&self, path: &str) -> Url {
        join(&self.base, path)
    }

    /// The org the token acts for, as `GET /v1/people/me` names it (`orgId`); `None` when the
    /// answer names none.
    pub async fn token_org(&self) -> anyhow::Result<Option<String>> {
        let me = self.get_json(self.url("/v1/people/me")).await?;
        Ok(me.get("orgId").and_then(Value::as_str).map(str::to_owned))
    }

    /// Sends one batch to an auditrail server's ingest API (`POST /auditrail/v1/ingest/{kind}`):
    /// `body` is a JSON array (`application/json`) or NDJSON (`application/x-ndjson`). A refusal
    /// is an [`HttpError`] in the error chain.
    pub async fn ingest(&self, kind: Kind, content_type: &str, body: Vec<u8>, retry: Retry) -> anyhow::Result<Receipt> {
        let url = self.url(&format!("/auditrail/v1/ingest/{kind}"));
        let reply = self.post(url, content_type, body, retry).await?;
        serde_json::from_slice(&reply.body).with_context(|| format!("{}'s ingest answer is not a receipt", self.who))
    }

    pub(crate) async fn get(&self, url: Url) -> anyhow::Result<Reply> {
        self.send(Method::GET, url, None, Retry::Always).await
    }

    async fn get_json(&self, url: Url) -> anyhow::Result<Value> {
        let reply = self.get(url.clone()).await?;
        serde_json::from_slice(&reply.body).with_context(|| format!("{} sent invalid JSON for {url}", self.who))
    }

    /// A GET whose body is read by the caller as it arrives (a streamed export); `None` when the
    /// server has no such endpoint (404/405: another Webex-compatible server).
    pub(crate) async fn get_stream(&self, url: Url) -> anyhow::Result<Option<reqwest::Response>> {
        self.answer(Method::GET, url, None, Retry::Always, true).await
    }

    pub(crate) async fn post(
        &self,
        url: Url,
        content_type: &str,
        body: Vec<u8>,
        retry: Retry,
    ) -> anyhow::Result<Reply> {
        self.send(Method::POST, url, Some((content_type.to_owned(), bytes::Bytes::from(body))), retry).await
    }

    /// Sends with the retry policy of this module.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<(String, bytes::Bytes)>,
        retry: Retry,
    ) -> anyhow::Result<Reply> {
        let mut failures = 0u32;
        loop {
            let response = self.answer(method.clone(), url.clone(), body.clone(), retry, false).await?;
            let Some(response) = response else { bail!("{} answered 404 for {url}", self.who) };
            let headers = response.headers().clone();
            match response.bytes().await {
                Ok(body) => return Ok(Reply { headers, body }),
                // The answer broke off: the request reached the server, so only retry what may be
                // sent twice.
                Err(e) if retry == Retry::Always && failures < self.retries => {
                    let wait = backoff(failures);
                    failures += 1;
                    tracing::warn!(error = %root_cause(&e), "reading from {} failed; retrying in {wait:?}", self.who);
                    tokio::time::sleep(wait).await;
                }
                Err(e) => bail!("cannot read the answer of {} at {}: {}", self.who, self.base, root_cause(&e)),
            }
        }
    }

    /// Sends until the server gives an answer worth returning: a success (its body not read yet),
    /// `None` for 404/405 when `absent_is_none`, or the error. Connection failures, 429s (after
    /// their `Retry-After`) and, as `retry` allows, 5xx answers are retried with backoff.
    async fn answer(
        &self,
        method: Method,
        url: Url,
        body: Option<(String, bytes::Bytes)>,
        retry: Retry,
        absent_is_none: bool,
    ) -> anyhow::Result<Option<reqwest::Response>> {
        // Every request carries the token, so every URL is checked here, whoever built it.
        self.check_origin(&url, "a request URL")?;
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&self.token)
                .header("TrackingID", format!("AUDITRAIL_CLI_{}", uuid::Uuid::new_v4()));
            if let Some((content_type, bytes)) = &body {
                request = request.header(CONTENT_TYPE, content_type.as_str()).body(bytes.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if e.is_redirect() => {
                    // A refused redirect is the server's answer, not a transient failure.
                    bail!("{} at {}: {}", self.who, origin_of(&self.base), root_cause(&e));
                }
                Err(e) => {
                    let retryable = e.is_connect() || retry == Retry::Always;
                    if retryable && failures < self.retries {
                        let wait = backoff(failures);
                        failures += 1;
                        tracing::warn!(error = %root_cause(&e), "request to {} failed; retrying in {wait:?}", self.who);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let retried = if failures > 0 { format!(" (after {failures} retries)") } else { String::new() };
                    bail!("cannot reach {} at {}: {}{retried}", self.who, self.base, root_cause(&e));
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(Some(response));
            }
            if absent_is_none && matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) {
                return Ok(None);
            }
            let headers = response.headers().clone();
            if status == StatusCode::TOO_MANY_REQUESTS && rate_limited < MAX_RATE_LIMITED {
                rate_limited += 1;
                let wait = retry_after(&headers).unwrap_or(DEFAULT_RETRY_AFTER);
                tracing::info!("{} is rate limiting; waiting {wait} s as its Retry-After asks", self.who);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let server_did_nothing = status == StatusCode::SERVICE_UNAVAILABLE;
            if status.is_server_error() && (retry == Retry::Always || server_did_nothing) && failures < self.retries {
                let wait = backoff(failures).max(Duration::from_secs(retry_after(&headers).unwrap_or(0)));
                failures += 1;
                tracing::warn!("{} answered {status}; retrying in {wait:?}", self.who);
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(error_of(&self.who, status, &headers, &bytes).into());
        }
    }
}

/// `base` with `path` appended to its path (`path` starts with `/`).
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url
}

/// Text from a server made safe to print on a terminal: C0 controls and DEL as `\x1b`, C1
/// controls (U+0080–U+009F, which some terminals obey like ESC sequences) as `\u{9b}`, so no
/// escape sequence in an event or an error can recolour, retitle or rewrite the user's screen.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control();
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match u32::from(c) {
            code @ (0..=0x1f | 0x7f) => out.push_str(&format!("\\x{code:02x}")),
            code @ 0x80..=0x9f => out.push_str(&format!("\\u{{{code:x}}}")),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `Retry-After` as integer seconds (Webex clients parse it with `int()`), clamped to a sane range.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?;
    raw.trim().parse::<u64>().ok().map(|s| s.clamp(1, MAX_RETRY_AFTER))
}

fn backoff(failures: u32) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(failures.min(16)));
    exp.min(MAX_BACKOFF)
}

/// The innermost cause of a reqwest error ("Connection refused (os error 111)"), which is what
/// a person can act on; reqwest's own text repeats the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if e.is_timeout() { format!("timed out ({text})") } else { text }
}

/// The server's own words from a Webex (`message`) or Connect (`description`) error body.
fn error_of(who: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> HttpError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).and_then(Value::as_str).map(str::to_owned);
    let message = field("message")
        .or_else(|| field("description"))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text.to_owned() }
        })
        .replace(['\n', '\r'], " ");
    // The server's words end up on the user's terminal: no escape sequences from it.
    let message = printable(&message).into_owned();
    let message: String = if message.chars().count() > 600 {
        let mut short: String = message.chars().take(600).collect();
        short.push('…');
        short
    } else {
        message
    };
    let tracking_id = field("trackingId")
        .or_else(|| field("transid"))
        .or_else(|| headers.get("trackingid").and_then(|v| v.to_str().ok()).map(str::to_owned));
    HttpError { who: who.to_owned(), status, message, tracking_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_drop_a_trailing_v1() {
        let b = |raw: &str| parse_base(raw, "--server").map(|u| u.to_string());
        assert_eq!(b("https://webexapis.com/v1/").unwrap(), "https://webexapis.com/");
        assert_eq!(b("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080/");
        assert_eq!(b("http://host/audit/v1").unwrap(), "http://host/audit");
        for bad in ["", "127.0.0.1:8080", "ftp://host", "http://", "http://host/?a=b", "not a url"] {
            assert!(b(bad).is_err(), "{bad}");
        }
        let api = Api::new("http://host/audit/", "--server", "t".into(), 0, "the server").unwrap();
        assert_eq!(api.url("/v1/people/me").as_str(), "http://host/audit/v1/people/me");
        let api = Api::new("https://webexapis.com/v1/", "--source", "t".into(), 0, "the source").unwrap();
        assert_eq!(api.url("/v1/events").as_str(), "https://webexapis.com/v1/events");
    }

    #[test]
    fn the_token_goes_only_to_the_given_origin() {
        let api = Api::new("http://127.0.0.1:8080/audit", "--server", "t".into(), 0, "the server").unwrap();
        let url = |raw: &str| Url::parse(raw).unwrap();
        assert!(api.trusts(&url("http://127.0.0.1:8080/v1/events?cursor=x")));
        for other in
            ["http://127.0.0.1:8081/v1/events", "https://127.0.0.1:8080/v1/events", "http://localhost:8080/v1/events"]
        {
            assert!(!api.trusts(&url(other)), "{other}");
        }
        let err = api.check_origin(&url("http://evil.example:9/v1/events"), "the next-page Link").unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to send the token to http://evil.example:9 (the next-page Link): it is only sent to \
             http://127.0.0.1:8080, the origin given with --server"
        );
        // Default ports are the same origin written either way.
        let api = Api::new("https://webexapis.com/v1/", "--source", "t".into(), 0, "the source").unwrap();
        assert!(api.trusts(&url("https://webexapis.com:443/v1/events")));
        assert!(!api.trusts(&url("http://webexapis.com/v1/events")));
        // A URL the user configured is trusted explicitly, and only its origin.
        let regional = url("https://api.wxcc-eu1.cisco.com/connectapi/v1/x");
        let api = api.trusting(&regional);
        assert!(api.trusts(&regional) && api.trusts(&url("https://webexapis.com/v1/events")));
        assert!(!api.trusts(&url("https://api.wxcc-us1.cisco.com/connectapi/v1/x")));
    }

    #[test]
    fn server_text_is_printable() {
        assert_eq!(printable("ok ✓"), "ok ✓");
        assert!(matches!(printable("ok"), Cow::Borrowed(_)));
        assert_eq!(printable("\u{1b}[2J\u{9b}\u{7f}\n"), "\\x1b[2J\\u{9b}\\x7f\\x0a");
        let e = error_of("the server", StatusCode::BAD_REQUEST, &HeaderMap::new(), b"{\"message\":\"bad\\u001b[31m\"}");
        assert_eq!(e.message, "bad\\x1b[31m");
    }

    #[test]
    fn error_bodies_in_both_shapes() {
        let h = HeaderMap::new();
        let e = error_of(
            "the server",
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"message":"Invalid parameter 'from'","errors":[],"trackingId":"T1"}"#,
        );
        assert_eq!(e.to_string(), "the server answered 400 Bad Request: Invalid parameter 'from' [TrackingID T1]");
        let e =
            error_of("the source", StatusCode::FORBIDDEN, &h, br#"{"code":"403","description":"nope","transid":"X"}"#);
        assert_eq!(e.to_string(), "the source answered 403 Forbidden: nope [TrackingID X]");
        let e = error_of("the server", StatusCode::NOT_FOUND, &h, b"");
        assert_eq!(e.to_string(), "the server answered 404 Not Found: Not Found");
    }

    #[test]
    fn retry_after_is_integer_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        h.insert(RETRY_AFTER, "0".parse().unwrap());
        assert_eq!(retry_after(&h), Some(1));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        assert!(backoff(0) < backoff(3) && backoff(40) == MAX_BACKOFF);
    }
}
