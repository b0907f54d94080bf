//! The hostile-input matrix: every endpoint × every category of bad input. For every request:
//! never a 5xx; an error has its wire shape (Webex, or Connect's under `/connectapi/`) with the
//! `TrackingID` header equal to the body's id; statuses that are certain are checked (405 for a
//! wrong method, 413 for an oversized body, 415 for a wrong content type); and nothing of a
//! rejected ingest batch is stored. Every offender is collected so one run reports them all.

use auditrail_server::ServerConfig;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Where a hostile value goes.
#[derive(Clone, Copy)]
enum Slot {
    /// A query parameter of a GET.
    Query(&'static str),
    /// A path segment replacing `{}`.
    Path,
    /// A top-level field of a JSON body (Connect export, or an ingest item).
    Body(&'static str),
}

struct Endpoint {
    method: Method,
    /// With `{}` where a path slot goes.
    path: &'static str,
    /// A valid query (without `?`) the hostile parameter is added to, replacing its own value.
    base_query: fn(&TestApp) -> Vec<(String, String)>,
    slots: &'static [Slot],
}

fn no_query(_: &TestApp) -> Vec<(String, String)> {
    Vec::new()
}

fn admin_query(app: &TestApp) -> Vec<(String, String)> {
    vec![
        ("orgId".into(), app.org.to_string()),
        ("from".into(), "2024-01-01T00:00:00.000Z".into()),
        ("to".into(), "2024-02-01T00:00:00.000Z".into()),
    ]
}

fn export_query(_: &TestApp) -> Vec<(String, String)> {
    vec![("kind".into(), "admin".into())]
}

fn security_query(app: &TestApp) -> Vec<(String, String)> {
    vec![
        ("orgId".into(), app.org.to_string()),
        ("startTime".into(), "2024-01-01T00:00:00.000Z".into()),
        ("endTime".into(), "2024-02-01T00:00:00.000Z".into()),
    ]
}

fn endpoints() -> Vec<Endpoint> {
    use Slot::*;
    vec![
        Endpoint {
            method: Method::GET,
            path: "/v1/admin/securityAudit/events",
            base_query: security_query,
            slots: &[
                Query("orgId"),
                Query("startTime"),
                Query("endTime"),
                Query("actorId"),
                Query("max"),
                Query("eventCategories"),
                Query("cursor"),
            ],
        },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/export",
            base_query: export_query,
            slots: &[
                Query("kind"),
                Query("from"),
                Query("to"),
                Query("actorId"),
                Query("actorIds"),
                Query("eventCategories"),
                Query("resource"),
                Query("type"),
                Query("adminRoles"),
                Query("q"),
            ],
        },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/access",
            base_query: no_query,
            slots: &[Query("from"), Query("to"), Query("actorId"), Query("max"), Query("cursor")],
        },
        Endpoint {
            method: Method::POST,
            path: "/auditrail/v1/ingest/security",
            base_query: no_query,
            slots: &[Body("id"), Body("created"), Body("actorId"), Body("data"), Body("eventCategory")],
        },
        Endpoint {
            method: Method::GET,
            path: "/v1/adminAudit/events",
            base_query: admin_query,
            slots: &[
                Query("orgId"),
                Query("from"),
                Query("to"),
                Query("actorId"),
                Query("max"),
                Query("offset"),
                Query("eventCategories"),
                Query("cursor"),
            ],
        },
        Endpoint {
            method: Method::GET,
            path: "/v1/adminAudit/eventCategories",
            base_query: no_query,
            slots: &[Query("x")],
        },
        Endpoint {
            method: Method::GET,
            path: "/v1/events",
            base_query: no_query,
            slots: &[
                Query("resource"),
                Query("type"),
                Query("actorId"),
                Query("from"),
                Query("to"),
                Query("max"),
                Query("offset"),
                Query("serviceType"),
                Query("cursor"),
            ],
        },
        Endpoint { method: Method::GET, path: "/v1/events/{}", base_query: no_query, slots: &[Path] },
        Endpoint {
            method: Method::POST,
            path: "/connectapi/v1/auditManager/audit-logs/export",
            base_query: no_query,
            slots: &[
                Body("range"),
                Body("from"),
                Body("to"),
                Body("max"),
                Body("offset"),
                Body("eventCategories"),
                Body("actorIds"),
                Body("adminRoles"),
            ],
        },
        Endpoint { method: Method::GET, path: "/v1/people/me", base_query: no_query, slots: &[Query("x")] },
        Endpoint { method: Method::GET, path: "/v1/organizations", base_query: no_query, slots: &[Query("x")] },
        Endpoint { method: Method::GET, path: "/v1/organizations/{}", base_query: no_query, slots: &[Path] },
        Endpoint {
            method: Method::POST,
            path: "/auditrail/v1/ingest/admin",
            base_query: no_query,
            slots: &[Body("id"), Body("created"), Body("actorId"), Body("data"), Body("eventCategory")],
        },
        Endpoint { method: Method::POST, path: "/auditrail/v1/ingest/{}", base_query: no_query, slots: &[Path] },
        Endpoint { method: Method::GET, path: "/auditrail/v1/keys", base_query: no_query, slots: &[Query("x")] },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/log",
            base_query: no_query,
            slots: &[Query("after"), Query("limit")],
        },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/checkpoints",
            base_query: no_query,
            slots: &[Query("limit")],
        },
        Endpoint {
            method: Method::POST,
            path: "/auditrail/v1/checkpoints",
            base_query: no_query,
            slots: &[Query("x")],
        },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/proofs/inclusion",
            base_query: no_query,
            slots: &[Query("id"), Query("treeSize")],
        },
        Endpoint {
            method: Method::GET,
            path: "/auditrail/v1/proofs/consistency",
            base_query: no_query,
            slots: &[Query("from"), Query("to")],
        },
        Endpoint {
            method: Method::POST,
            path: "/auditrail/v1/retention/run",
            base_query: no_query,
            slots: &[Query("x")],
        },
        Endpoint { method: Method::GET, path: "/healthz", base_query: no_query, slots: &[Query("x")] },
        Endpoint { method: Method::GET, path: "/readyz", base_query: no_query, slots: &[Query("x")] },
        Endpoint { method: Method::GET, path: "/metrics", base_query: no_query, slots: &[Query("x")] },
    ]
}

/// One hostile value: `raw` goes into JSON bodies as a string (or as `json` when given);
/// `encoded` goes into URLs as is (so it can carry invalid percent-encodings).
struct Case {
    category: &'static str,
    encoded: String,
    raw: Value,
}

fn case(category: &'static str, raw: &str) -> Case {
    Case { category, encoded: enc(raw), raw: Value::String(raw.to_owned()) }
}

fn cases(cursor_from_elsewhere: &str) -> Vec<Case> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let b64 = |bytes: &[u8]| STANDARD_NO_PAD.encode(bytes);
    let mut out = Vec::new();
    for d in [
        "",
        " ",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2024-01-01T00:00:00.1234567890123Z",
        "2024-01-01T00:00:00+25:00",
        "2024-01-01",
        "now",
        "-2024-01-01T00:00:00Z",
    ] {
        out.push(case("date", d));
    }
    for n in ["-1", "0", "1e3", "0x10", "18446744073709551616", "9223372036854775808", "NaN", "1.5", "+5", "٣", "1 2"]
    {
        out.push(case("number", n));
    }
    out.push(Case {
        category: "number",
        encoded: "1e400".into(),
        raw: serde_json::from_str("1e300").unwrap_or(json!(0)),
    });
    out.push(Case { category: "number", encoded: "-0".into(), raw: json!(-1) });
    out.push(Case { category: "number", encoded: "99".into(), raw: json!(u64::MAX) });
    let mut flipped = cursor_from_elsewhere.to_owned().into_bytes();
    if let Some(b) = flipped.get_mut(10) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    for c in [
        "garbage".to_owned(),
        "AAAA".to_owned(),
        cursor_from_elsewhere.to_owned(),
        String::from_utf8_lossy(&flipped).into_owned(),
        cursor_from_elsewhere[..cursor_from_elsewhere.len() / 2].to_owned(),
        format!("{cursor_from_elsewhere}AAAA"),
    ] {
        out.push(case("cursor", &c));
    }
    for id in [
        "!!!".to_owned(),
        b64(b"ciscospark://us/PEOPLE/4f2a3f1e-0000-4000-8000-000000000001"),
        b64(b"ciscospark://us/ORGANIZATION/not-a-uuid"),
        b64(&[0xFF, 0xFE, 0xFD, 0x00]),
        b64(b"ciscospark://us/EVENT/"),
        "A".repeat(5000),
    ] {
        out.push(case("base64 id", &id));
    }
    for s in [
        "' OR 1=1 --",
        "\"; DROP TABLE events; --",
        "\r\nX-Injected: 1",
        "a\rb\nc",
        "../../etc/passwd",
        "\u{202E}evil",
        "zero\u{200B}width",
        "😀",
        "\0",
        "<script>alert(1)</script>",
        "${jndi:ldap://x/a}",
        "%s%s%n",
    ] {
        out.push(case("injection", s));
    }
    for bad in ["%FF%FE", "%C0%AF", "%E2%82", "%ED%A0%80", "%", "%G0"] {
        out.push(Case { category: "invalid utf-8", encoded: bad.to_owned(), raw: Value::String("\u{FFFD}".into()) });
    }
    out.push(Case { category: "structure", encoded: "x".into(), raw: json!([[[[]]]]) });
    out.push(Case { category: "structure", encoded: "x".into(), raw: json!({"$gt": ""}) });
    out.push(Case { category: "structure", encoded: "x".into(), raw: Value::Null });
    out.push(Case { category: "structure", encoded: "x".into(), raw: json!(true) });
    out
}

fn query_string(pairs: &[(String, String)], hostile: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| hostile.is_none_or(|(name, _)| name != k))
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    if let Some((name, value)) = hostile {
        parts.push(format!("{name}={value}"));
    }
    parts.join("&")
}

struct Outcome {
    request: String,
    status: StatusCode,
    problem: Option<String>,
}

/// Checks the status and the error shape of one response.
async fn judge(request: String, response: reqwest::Response, connect: bool) -> Outcome {
    let status = response.status();
    let header = response.headers().get("trackingid").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let problem = if status.is_server_error() {
        Some(format!("server error: {text}"))
    } else if header.is_none() {
        Some("no TrackingID header".to_owned())
    } else if status.is_client_error() {
        match serde_json::from_str::<Value>(&text) {
            Err(_) => Some(format!("error body is not JSON: {text}")),
            Ok(body) if connect => {
                let ok = body["code"].as_str() == Some(status.as_str())
                    && body["description"].is_string()
                    && body["transid"].as_str() == header.as_deref();
                (!ok).then(|| format!("not the Connect error shape: {body}"))
            }
            Ok(body) => {
                let ok = body["message"].is_string()
                    && body["errors"][0]["description"].is_string()
                    && body["trackingId"].as_str() == header.as_deref();
                (!ok).then(|| format!("not the Webex error shape: {body}"))
            }
        }
    } else {
        None
    };
    Outcome { request, status, problem }
}

/// Events of every ingestible kind in the app's org (access records, written on reads, excluded).
async fn ingested(app: &TestApp) -> u64 {
    use auditrail_core::{EventQuery, Filters, Kind, Position, TimeRange, Timestamp};
    let mut total = 0;
    for kind in Kind::INGESTIBLE {
        let query = EventQuery {
            kind,
            range: TimeRange::new(Timestamp::MIN, Timestamp::MAX).expect("range"),
            filters: Filters::default(),
            order: auditrail_core::Order::OldestFirst,
            position: Position::Offset(0),
            snapshot: None,
            limit: 1,
            with_total: true,
        };
        total += app.store.events(&app.org, &query).await.expect("count").total.unwrap_or(0);
    }
    total
}

fn ingest_item() -> Value {
    json!({ "id": "hostile-1", "created": "2024-01-05T00:00:00.000Z", "actorId": "a",
            "data": { "eventCategory": "USERS", "actionText": "ok" } })
}

#[tokio::test]
async fn every_endpoint_times_every_hostile_input() {
    // The access log stays on: hostile parameters also reach the records of the reads they are in.
    let config = ServerConfig { rate_limit: None, ..ServerConfig::default() };
    let app = spawn_app_with(config).await;
    // Some data, and a cursor that belongs to another query.
    let seed: Vec<Value> =
        (0..3).map(|i| admin_event(&format!("2024-01-0{}T00:00:00.000Z", i + 1), "LOGINS", "a")).collect();
    app.ingest_ok("admin", &json!(seed)).await;
    let first =
        app.get(&app.admin_path("2023-12-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "max=1"), &app.token_all).await;
    let link = next_link(first.headers()).expect("a next link");
    let cursor = link
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("cursor="))
        .map(|c| c.replace("%2B", "+").replace("%2F", "/").replace("%3D", "="))
        .expect("cursor in link");
    let stored_before = ingested(&app).await;

    let cases = cases(&cursor);
    let mut outcomes = Vec::new();
    // Requests reqwest refused to build (a URL it cannot send): nothing reached the server.
    let mut unsendable = 0usize;
    let mut planned = 0usize;
    for endpoint in endpoints() {
        let connect = endpoint.path.starts_with("/connectapi/");
        let base = (endpoint.base_query)(&app);
        for slot in endpoint.slots {
            for c in &cases {
                planned += 1;
                let (url, body) = match slot {
                    Slot::Query(name) => {
                        let q = query_string(&base, Some((name, &c.encoded)));
                        (app.url(&format!("{}?{q}", endpoint.path)), None)
                    }
                    Slot::Path => (app.url(&endpoint.path.replace("{}", &c.encoded)), Some(json!([ingest_item()]))),
                    Slot::Body(field) => {
                        let body = if endpoint.path.contains("/ingest/") {
                            let mut item = ingest_item();
                            if *field == "eventCategory" {
                                item["data"]["eventCategory"] = c.raw.clone();
                            } else {
                                item[*field] = c.raw.clone();
                            }
                            item["id"] = json!(format!("hostile-{}", outcomes.len()));
                            if *field == "id" {
                                item["id"] = c.raw.clone();
                            }
                            json!([item])
                        } else {
                            let mut body = json!({ "range": 1 });
                            body[*field] = c.raw.clone();
                            body
                        };
                        (app.url(endpoint.path), Some(body))
                    }
                };
                let mut request = app.client.request(endpoint.method.clone(), &url).bearer_auth(&app.token_all);
                if endpoint.method == Method::POST {
                    request = request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone().unwrap_or_else(|| json!({ "range": 1 })).to_string());
                }
                let label =
                    format!("{} {} [{}] {}", endpoint.method, endpoint.path, c.category, &url[..url.len().min(160)]);
                match request.send().await {
                    Ok(response) => outcomes.push(judge(label, response, connect).await),
                    // reqwest refuses some URLs itself (e.g. CR LF): nothing reached the server.
                    Err(e) if e.is_builder() => unsendable += 1,
                    Err(e) => outcomes.push(Outcome {
                        request: label,
                        status: StatusCode::IM_A_TEAPOT,
                        problem: Some(format!("transport error: {e}")),
                    }),
                }
            }
        }
        // Duplicate parameters: each slot twice with different values.
        for slot in endpoint.slots {
            if let Slot::Query(name) = slot {
                planned += 1;
                let q = query_string(&base, None);
                let url = app.url(&format!("{}?{q}&{name}=1&{name}=2", endpoint.path));
                let response = app
                    .client
                    .request(endpoint.method.clone(), &url)
                    .bearer_auth(&app.token_all)
                    .header(CONTENT_TYPE, "application/json")
                    .body("{\"range\":1}")
                    .send()
                    .await
                    .expect("request");
                outcomes.push(judge(format!("duplicate {name} on {}", endpoint.path), response, connect).await);
            }
        }
        // Wrong methods are 405 in the right shape.
        for method in [Method::PUT, Method::DELETE, Method::PATCH] {
            planned += 1;
            let url = app.url(&endpoint.path.replace("{}", "x"));
            let response =
                app.client.request(method.clone(), &url).bearer_auth(&app.token_all).send().await.expect("request");
            let mut outcome = judge(format!("{method} {}", endpoint.path), response, connect).await;
            if outcome.problem.is_none() && outcome.status != StatusCode::METHOD_NOT_ALLOWED {
                outcome.problem = Some(format!("wrong method gave {}", outcome.status));
            }
            outcomes.push(outcome);
        }
    }

    // Bodies: wrong content types, invalid UTF-8, deep nesting, NDJSON with one bad line, and
    // oversized bodies, on every POST endpoint.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let good_line = ingest_item().to_string();
    let ndjson_one_bad = format!("{good_line}\n{{\"actorId\": 5}}\n{good_line}\n");
    let huge_item =
        json!([{ "actorId": "a", "data": { "eventCategory": "X", "blob": "x".repeat(17 * 1024 * 1024) } }]).to_string();
    let bodies: Vec<(&str, &str, Vec<u8>, Option<StatusCode>)> = vec![
        ("wrong content type", "text/plain", good_line.clone().into_bytes(), None),
        ("form content type", "application/x-www-form-urlencoded", b"a=b".to_vec(), None),
        ("invalid utf-8", "application/json", vec![b'[', 0xFF, 0xFE, b']'], None),
        ("deeply nested", "application/json", deep.into_bytes(), None),
        ("ndjson one bad line", "application/x-ndjson", ndjson_one_bad.into_bytes(), None),
        ("huge", "application/json", huge_item.into_bytes(), Some(StatusCode::PAYLOAD_TOO_LARGE)),
        ("empty", "application/json", Vec::new(), None),
    ];
    for path in [
        "/auditrail/v1/ingest/admin",
        "/auditrail/v1/ingest/compliance",
        "/auditrail/v1/ingest/connect",
        "/auditrail/v1/ingest/security",
        "/connectapi/v1/auditManager/audit-logs/export",
        "/auditrail/v1/checkpoints",
        "/auditrail/v1/retention/run",
    ] {
        for (name, ct, body, expected) in &bodies {
            planned += 1;
            let response = app
                .client
                .post(app.url(path))
                .bearer_auth(&app.token_all)
                .header(CONTENT_TYPE, *ct)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            let mut outcome = judge(format!("POST {path} [{name}]"), response, path.starts_with("/connectapi/")).await;
            let want = if path.contains("/ingest/") {
                match *name {
                    "wrong content type" | "form content type" => Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                    "ndjson one bad line" | "invalid utf-8" | "deeply nested" | "empty" => {
                        Some(StatusCode::BAD_REQUEST)
                    }
                    _ => *expected,
                }
            } else if path.starts_with("/connectapi/") {
                *expected
            } else {
                None
            };
            if outcome.problem.is_none()
                && let Some(want) = want
                && outcome.status != want
            {
                outcome.problem = Some(format!("expected {want}, got {}", outcome.status));
            }
            outcomes.push(outcome);
        }
    }

    // Nothing from a rejected batch was stored: only the hostile items that were accepted (200)
    // may have added events.
    let accepted_ingests = outcomes
        .iter()
        .filter(|o| o.request.starts_with("POST /auditrail/v1/ingest") && o.status == StatusCode::OK)
        .count() as u64;
    let stored_after = ingested(&app).await;
    let problems: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.problem.as_ref().map(|p| format!("{} → {}: {p}", o.request, o.status)))
        .collect();
    eprintln!(
        "hostile matrix: {} endpoints, {} cases, {} requests, {} problems",
        endpoints().len(),
        cases.len(),
        outcomes.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{} hostile requests misbehaved:\n{}", problems.len(), problems.join("\n"));
    assert_eq!(outcomes.len() + unsendable, planned, "every planned request was judged");
    assert!(unsendable * 20 < planned, "{unsendable} of {planned} requests could not even be sent");
    assert!(outcomes.len() > 3_500, "the matrix shrank to {} requests", outcomes.len());
    assert!(
        stored_after - stored_before <= accepted_ingests,
        "rejected ingests stored events: {} new events for {accepted_ingests} accepted single-item batches",
        stored_after - stored_before
    );
    // Still serving.
    assert_eq!(app.get("/v1/people/me", &app.token_all).await.status(), StatusCode::OK);
}
