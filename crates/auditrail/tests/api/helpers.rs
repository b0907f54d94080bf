//! The test harness: one fresh server (own temp data dir, own orgs and tokens) per test, plus
//! builders for events with known ids and timestamps and assertions for the wire error shapes.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use auditrail_core::ids::webex_id;
use auditrail_core::{OrgId, Scope, Timestamp};
use auditrail_server::{AppState, ConnectionLimits, ServerConfig, Transport};
use auditrail_store::postgres::PostgresStore;
use auditrail_store::sqlite::SqliteStore;
use auditrail_store::{NewToken, Store};
use auditrail_testkit::{Serve, ServerProcess};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LINK};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

pub const ADMIN_EVENTS: &str = "/v1/adminAudit/events";
pub const CONNECT_EXPORT: &str = "/connectapi/v1/auditManager/audit-logs/export";
pub const ONE_YEAR_MESSAGE: &str = "A maximum of one year of audit events can be returned per request.";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub store: Arc<dyn Store>,
    pub org: OrgId,
    pub other_org: OrgId,
    /// All four scopes.
    pub token_all: String,
    pub token_all_id: String,
    pub token_ingest: String,
    /// `audit:events_read` only.
    pub token_audit: String,
    pub token_compliance: String,
    /// All scopes, `other_org`.
    pub other_token_all: String,
    pub client: reqwest::Client,
    /// The background workers of this server and its replicas, stopped with the app.
    workers: std::sync::Mutex<Vec<auditrail_service::Supervisor>>,
    _guard: StoreGuard,
}

/// Keeps the backing store alive: a temp dir for SQLite, a database for PostgreSQL.
#[allow(dead_code)]
enum StoreGuard {
    Sqlite(TempDir),
    Postgres(auditrail_testkit::TestDatabase),
}

/// The backend under test: SQLite by default; `AUDITRAIL_TEST_BACKEND=postgres` runs the same
/// suite on a fresh PostgreSQL database (scripts/test.sh runs it both ways).
async fn test_store() -> (Arc<dyn Store>, StoreGuard) {
    match std::env::var("AUDITRAIL_TEST_BACKEND").as_deref() {
        Ok("postgres") => {
            let db = auditrail_testkit::fresh_database().await.expect("test database");
            let store = PostgresStore::connect(&db.url, None).await.expect("connect to PostgreSQL");
            (Arc::new(store), StoreGuard::Postgres(db))
        }
        Ok("sqlite") | Err(_) => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open(dir.path()).expect("open store");
            (Arc::new(store), StoreGuard::Sqlite(dir))
        }
        Ok(other) => panic!("AUDITRAIL_TEST_BACKEND={other}: use sqlite or postgres"),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    spawn_app_serving(config, Transport::default(), ConnectionLimits::default()).await
}

/// A server with a chosen transport (TLS: `base` is `https://localhost:PORT`) and connection limits.
pub async fn spawn_app_serving(config: ServerConfig, transport: Transport, limits: ConnectionLimits) -> TestApp {
    let (store, guard) = test_store().await;
    let org = OrgId::from_uuid(Uuid::new_v4());
    let other_org = OrgId::from_uuid(Uuid::new_v4());
    store.create_org(&org, "Acme").await.expect("create org");
    store.create_org(&other_org, "Other Corp").await.expect("create other org");

    let token = |org: &OrgId, scopes: Vec<Scope>, name: &str, email: Option<&str>| {
        let store = store.clone();
        let org = org.clone();
        let name = name.to_owned();
        let email = email.map(str::to_owned);
        async move {
            let (info, secret) = store
                .create_token(&org, NewToken { scopes, name: Some(name), email, expires: None })
                .await
                .expect("create token");
            (info.token_id, secret.expose().to_owned())
        }
    };
    let (token_all_id, token_all) = token(&org, Scope::ALL.to_vec(), "Alice Admin", Some("alice@acme.example")).await;
    let (_, token_ingest) = token(&org, vec![Scope::Ingest], "Ingest Bot", None).await;
    let (_, token_audit) = token(&org, vec![Scope::AuditEventsRead], "Audit Reader", None).await;
    let (_, token_compliance) = token(&org, vec![Scope::ComplianceEventsRead], "Compliance Reader", None).await;
    let (_, other_token_all) = token(&other_org, Scope::ALL.to_vec(), "Olga Other", Some("olga@other.example")).await;

    // A signing key, so the integrity endpoints answer (checkpoints are made on demand only).
    let key = auditrail_core::checkpoint::SigningKey::generate_from("auditrail-test", [7; 32]).expect("test key");
    let signer = auditrail_service::LogSigner { key, policy: auditrail_service::CheckpointPolicy::default() };
    let mut workers = auditrail_service::Supervisor::default();
    let state = AppState::new(store.clone(), config, &mut workers).await.expect("app state").with_signer(signer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let base =
        if transport.tls.is_some() { format!("https://localhost:{port}") } else { format!("http://127.0.0.1:{port}") };
    tokio::spawn(auditrail_server::serve_with(listener, state, transport, limits, std::future::pending()));

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    TestApp {
        base,
        store,
        org,
        other_org,
        token_all,
        token_all_id,
        token_ingest,
        token_audit,
        token_compliance,
        other_token_all,
        client,
        workers: std::sync::Mutex::new(vec![workers]),
        _guard: guard,
    }
}

impl TestApp {
    /// Another server on the same store (a second replica); returns its base URL.
    pub async fn spawn_replica(&self, config: ServerConfig) -> String {
        let mut workers = auditrail_service::Supervisor::default();
        let state = AppState::new(self.store.clone(), config, &mut workers).await.expect("app state");
        self.workers.lock().expect("workers").push(workers);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        tokio::spawn(auditrail_server::serve(listener, state, std::future::pending()));
        format!("http://127.0.0.1:{port}")
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// POSTs a JSON body (an array or `{"items": [...]}`) to the ingest endpoint of `kind`.
    pub async fn ingest(&self, kind: &str, token: &str, items: &Value) -> Response {
        self.client
            .post(self.url(&format!("/auditrail/v1/ingest/{kind}")))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .body(items.to_string())
            .send()
            .await
            .expect("ingest request")
    }

    /// Ingests with `token_all` and asserts success; returns the receipt.
    pub async fn ingest_ok(&self, kind: &str, items: &Value) -> Value {
        let response = self.ingest(kind, &self.token_all, items).await;
        let status = response.status();
        let body: Value = response.json().await.expect("ingest receipt is JSON");
        assert_eq!(status, StatusCode::OK, "ingest failed: {body}");
        body
    }

    pub async fn ingest_raw(&self, kind: &str, token: &str, content_type: Option<&str>, body: Vec<u8>) -> Response {
        let mut request =
            self.client.post(self.url(&format!("/auditrail/v1/ingest/{kind}"))).bearer_auth(token).body(body);
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        request.send().await.expect("ingest request")
    }

    pub async fn get(&self, path_and_query: &str, token: &str) -> Response {
        self.client.get(self.url(path_and_query)).bearer_auth(token).send().await.expect("GET request")
    }

    /// GETs and asserts a 200 with a JSON body.
    pub async fn get_json(&self, path_and_query: &str, token: &str) -> Value {
        let response = self.get(path_and_query, token).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "GET {path_and_query}: {text}");
        serde_json::from_str(&text).expect("JSON body")
    }

    pub async fn get_absolute(&self, url: &str, token: &str) -> Response {
        self.client.get(url).bearer_auth(token).send().await.expect("GET request")
    }

    /// The admin-audit path for this app's org over `[from, to]`, plus `extra` (already encoded).
    pub fn admin_path(&self, from: &str, to: &str, extra: &str) -> String {
        let mut path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", enc(&self.org.to_string()), enc(from), enc(to));
        if !extra.is_empty() {
            path.push('&');
            path.push_str(extra);
        }
        path
    }

    /// Admin-audit items of this org over `[from, to]` with `extra`, first page only.
    pub async fn admin_items(&self, from: &str, to: &str, extra: &str) -> Vec<Value> {
        items(&self.get_json(&self.admin_path(from, to, extra), &self.token_all).await)
    }

    /// Follows `Link: <…>; rel="next"` from `url` to the end and returns every item in order.
    /// Every link must be absolute, unique, and `rel="next"`.
    pub async fn walk(&self, url: &str, token: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut next = Some(if url.starts_with("http") { url.to_owned() } else { self.url(url) });
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            assert!(pages <= 5_000, "walk does not terminate");
            let response = self.get_absolute(&url, token).await;
            let status = response.status();
            next = next_link(response.headers());
            let text = response.text().await.expect("body");
            assert_eq!(status, StatusCode::OK, "GET {url}: {text}");
            let body: Value = serde_json::from_str(&text).expect("JSON page");
            let page = items(&body);
            if next.is_some() {
                assert!(!page.is_empty(), "a page with a next link must not be empty: {url}");
            }
            all.extend(page);
        }
        all
    }

    pub async fn connect(&self, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(CONNECT_EXPORT))
            .bearer_auth(token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("connect request")
    }

    /// Connect export with `token_all`, asserting success.
    pub async fn connect_ok(&self, body: &Value) -> Value {
        let response = self.connect(&self.token_all, body).await;
        let status = response.status();
        let tracking = tracking_id(&response);
        let value: Value = response.json().await.expect("connect JSON");
        assert_eq!(status, StatusCode::OK, "connect export {body}: {value}");
        assert_eq!(value["code"], "0", "{value}");
        assert_eq!(value["description"], "success", "{value}");
        assert_eq!(value["transid"].as_str(), Some(tracking.as_str()), "transid must equal the TrackingID header");
        value
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn enc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 3);
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The single `rel="next"` URL of a response, if any; asserts the header is well-formed: at most one
/// `Link` header, exactly one `<…>` in it, `rel="next"`, absolute http(s) URL.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers.get_all(LINK).iter().map(|v| v.to_str().expect("ASCII Link header")).collect();
    assert!(values.len() <= 1, "more than one Link header: {values:?}");
    let value = values.first()?;
    assert_eq!(value.matches('<').count(), 1, "exactly one link expected: {value}");
    let (url_part, params) = value.split_once('>').expect("Link header has <url>");
    let url = url_part.trim().strip_prefix('<').expect("Link header starts with <");
    assert_eq!(params.trim(), "; rel=\"next\"", "Link must be rel=\"next\": {value}");
    assert!(url.starts_with("http://") || url.starts_with("https://"), "Link URL must be absolute: {url}");
    assert!(!url.contains('+'), "Link URL must not contain a literal '+': {url}");
    Some(url.to_owned())
}

pub fn tracking_id(response: &Response) -> String {
    response
        .headers()
        .get("trackingid")
        .expect("every response carries a TrackingID header")
        .to_str()
        .expect("ASCII TrackingID")
        .to_owned()
}

/// Asserts a Webex-shaped error and returns its body.
pub async fn assert_webex_error(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let url = response.url().to_string();
    let content_type =
        response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    let tracking = tracking_id(&response);
    let text = response.text().await.expect("error body");
    assert_eq!(actual, status, "{url}: expected {status}, got {actual}: {text}");
    assert!(content_type.starts_with("application/json"), "{url}: error Content-Type is {content_type:?}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {text}"));
    assert!(body["message"].is_string(), "{url}: error body lacks message: {body}");
    assert!(body["errors"][0]["description"].is_string(), "{url}: error body lacks errors[0].description: {body}");
    assert_eq!(body["trackingId"].as_str(), Some(tracking.as_str()), "{url}: trackingId must equal the header");
    body
}

/// Asserts a Connect-shaped error (`{"code": "<status>", "description", "transid"}`) and returns its body.
pub async fn assert_connect_error(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type =
        response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    let tracking = tracking_id(&response);
    let text = response.text().await.expect("error body");
    assert_eq!(actual, status, "expected {status}, got {actual}: {text}");
    assert!(content_type.starts_with("application/json"), "error Content-Type is {content_type:?}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"));
    assert_eq!(body["code"].as_str(), Some(status.as_u16().to_string().as_str()), "{body}");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    assert_eq!(body["transid"].as_str(), Some(tracking.as_str()), "transid must equal the TrackingID header");
    body
}

/// Everything an error says: message plus every description.
pub fn error_text(body: &Value) -> String {
    let mut text = body["message"].as_str().unwrap_or_default().to_owned();
    if let Some(errors) = body["errors"].as_array() {
        for e in errors {
            text.push('\n');
            text.push_str(e["description"].as_str().unwrap_or_default());
        }
    }
    if let Some(d) = body["description"].as_str() {
        text.push('\n');
        text.push_str(d);
    }
    text
}

pub fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().unwrap_or_else(|| panic!("body has no items array: {body}")).clone()
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().expect("item id").to_owned()).collect()
}

/// A fresh event id in Webex form: `base64("ciscospark://us/EVENT/<uuid4>")`, no padding.
pub fn event_id() -> String {
    webex_id("EVENT", Uuid::new_v4())
}

pub fn people_id() -> String {
    webex_id("PEOPLE", Uuid::new_v4())
}

pub fn decode_webex_id(id: &str) -> String {
    let bytes = STANDARD_NO_PAD.decode(id.trim_end_matches('=')).expect("id is base64");
    String::from_utf8(bytes).expect("id decodes to UTF-8")
}

/// `base` plus `ms` milliseconds, in wire form.
pub fn at(base: &str, ms: i64) -> String {
    let t = Timestamp::parse(base, "t").expect("valid base timestamp");
    Timestamp::from_millis(t.millis() + ms).expect("in range").to_string()
}

pub fn now_ms() -> i64 {
    Timestamp::now().millis()
}

pub fn ts(ms: i64) -> String {
    Timestamp::from_millis(ms).expect("in range").to_string()
}

pub fn admin_event(created: &str, category: &str, actor: &str) -> Value {
    json!({
        "id": event_id(),
        "actorId": actor,
        "actorOrgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9wYXJ0bmVy",
        "created": created,
        "data": {
            "eventCategory": category,
            "actionText": format!("{actor} did something"),
            "eventDescription": "A test event",
            "actorEmail": format!("{actor}@example.com"),
            "actorName": actor,
            "targetType": "User",
        }
    })
}

pub fn compliance_event(created: &str, resource: &str, event_type: &str, actor: &str) -> Value {
    json!({
        "id": event_id(),
        "resource": resource,
        "type": event_type,
        "appId": "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL3Rlc3Q",
        "actorId": actor,
        "created": created,
        "data": { "id": webex_id("MESSAGE", Uuid::new_v4()), "text": "hello" }
    })
}

pub fn connect_event(created: &str, category: &str, actor_email: &str, roles: &[&str]) -> Value {
    json!({
        "id": event_id(),
        "actionText": "Logged in",
        "statusOfAction": "SUCCESS",
        "eventCategory": category,
        "adminRoles": roles,
        "transid": Uuid::new_v4().to_string(),
        "created": created,
        "groupId": "group-1",
        "eventDescription": format!("{actor_email} logged in"),
        "actorEmail": actor_email,
        "serviceId": "svc-1",
        "actorIp": "192.0.2.10",
    })
}

/// A minimal connect event (for volume tests).
pub fn small_connect_event(created: &str) -> Value {
    json!({ "id": event_id(), "eventDescription": "d", "statusOfAction": "SUCCESS", "created": created })
}

/// The built `auditrail` binary.
pub const AUDITRAIL: &str = env!("CARGO_BIN_EXE_auditrail");

/// The `auditrail` binary with a clean environment: nothing of the developer's AUDITRAIL_* leaks in.
pub fn auditrail_command(args: &[&str]) -> Command {
    auditrail_testkit::auditrail_command(Path::new(AUDITRAIL), args)
}

/// Runs the binary to its end.
pub fn auditrail(args: &[&str]) -> Output {
    auditrail_command(args).output().expect("run auditrail")
}

/// Runs the binary, which must succeed; its stdout, trimmed.
pub fn auditrail_ok(args: &[&str]) -> String {
    let out = auditrail(args);
    assert!(out.status.success(), "auditrail {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs the binary, which must exit 1 with a one-line reason on stderr and nothing on stdout;
/// returns that line.
pub fn auditrail_fails(args: &[&str]) -> String {
    let out = auditrail(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "auditrail {args:?} should exit 1; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "auditrail {args:?}: expected a one-line reason, got:\n{err}");
    assert!(out.stdout.iter().all(u8::is_ascii_whitespace), "nothing on stdout on failure");
    lines[0].to_owned()
}

/// A new org named `name` and a token of `scopes` for it, made with the CLI in the store `store`
/// names (`--data DIR`, `--database-url URL`…): (org id, token).
pub fn org_and_token(store: &[&str], name: &str, scopes: &str) -> (String, String) {
    let org = auditrail_ok(&[&["org", "create", "--name", name], store].concat());
    let token = auditrail_ok(&[&["token", "create", "--org", &org, "--scope", scopes], store].concat());
    (org, token)
}

/// `auditrail serve ARGS` on a free loopback port, once it listens.
pub fn serve(args: &[&str]) -> ServerProcess {
    start(Serve::new(AUDITRAIL).args(args))
}

/// Starts `serve`; the test fails with what the process wrote if it does not come up.
pub fn start(serve: Serve) -> ServerProcess {
    serve.start().unwrap_or_else(|e| panic!("{e}"))
}

/// Stops a server with SIGTERM and asserts that it exited cleanly.
pub fn stop(mut server: ServerProcess) {
    let status = server.stop().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "serve exited with {status}; it wrote:\n{}", server.output());
}

pub const SECURITY_EVENTS: &str = "/v1/admin/securityAudit/events";

pub fn security_event(created: &str, category: &str, actor: &str) -> Value {
    json!({
        "id": event_id(),
        "actorId": actor,
        "actorOrgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9hY21l",
        "created": created,
        "data": {
            "eventCategory": category,
            "actorName": actor,
            "actorEmail": format!("{actor}@example.com"),
            "actorIp": "198.51.100.7",
            "actorUserAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            "actorOrgName": "Acme",
            "trackingId": format!("ATLAS_{}_0", uuid::Uuid::new_v4()),
            "eventDescription": "User signed in",
            "actionText": format!("{actor} signed into organization Acme"),
        }
    })
}

impl TestApp {
    /// The security-audit path for this app's org over `[start, end]`, plus `extra` (already encoded).
    pub fn security_path(&self, start: &str, end: &str, extra: &str) -> String {
        let mut path = format!(
            "{SECURITY_EVENTS}?orgId={}&startTime={}&endTime={}",
            enc(&self.org.to_string()),
            enc(start),
            enc(end)
        );
        if !extra.is_empty() {
            path.push('&');
            path.push_str(extra);
        }
        path
    }
}

/// A one-shot HTTP server on a random port: it answers its first request with `body` as NDJSON
/// (200, the body's own length) and closes; stands for a server that is not this auditrail.
pub fn serve_one_ndjson_response(body: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}
