//! Errors, tracking ids, authentication, precedence and hostile input.

use std::time::Duration;

use auditrail_core::Scope;
use auditrail_store::NewToken;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const FROM: &str = "2024-01-01T00:00:00.000Z";
const TO: &str = "2024-12-31T00:00:00.000Z";

#[tokio::test]
async fn every_response_carries_a_tracking_id() {
    let app = spawn_app().await;
    let org = enc(&app.org.to_string());
    let cases: Vec<(Method, String, Option<&str>)> = vec![
        (Method::GET, "/healthz".into(), None),
        (Method::GET, "/readyz".into(), None),
        (Method::GET, app.admin_path(FROM, TO, ""), Some(&app.token_all)),
        (Method::GET, "/v1/adminAudit/eventCategories".into(), Some(&app.token_all)),
        (Method::GET, "/v1/events".into(), Some(&app.token_all)),
        (Method::GET, "/v1/people/me".into(), Some(&app.token_all)),
        (Method::GET, "/v1/organizations".into(), Some(&app.token_all)),
        (Method::GET, format!("/v1/organizations/{org}"), Some(&app.token_all)),
        (Method::GET, "/nope".into(), None),
        (Method::GET, "/v1/events".into(), None),
        (Method::GET, "/v1/events?max=0".into(), Some(&app.token_all)),
        (Method::DELETE, "/v1/events".into(), Some(&app.token_all)),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, path, token) in cases {
        let mut request = app.client.request(method.clone(), app.url(&path));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let id = tracking_id(&response);
        assert!(!id.is_empty(), "{method} {path}");
        assert!(seen.insert(id.clone()), "tracking ids are unique per request: {id}");
        if !status.is_success() {
            assert_webex_error(response, status).await;
        }
    }
}

#[tokio::test]
async fn a_client_tracking_id_is_echoed() {
    let app = spawn_app().await;
    let sent = "SIMPLE_0a1b2c3d-1111-2222-3333-444455556666";
    let response =
        app.client.get(app.url("/v1/people/me")).bearer_auth(&app.token_all).header("TrackingID", sent).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(tracking_id(&response), sent);
    // On errors the body carries the same id.
    let response = app.client.get(app.url("/v1/events?max=0")).bearer_auth(&app.token_all).header("trackingid", sent);
    let body = assert_webex_error(response.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_eq!(body["trackingId"], sent);
    let response = app.client.get(app.url("/nope")).header("TrackingID", "ROUTER_abc").send().await.unwrap();
    let body = assert_webex_error(response, StatusCode::NOT_FOUND).await;
    assert_eq!(body["trackingId"], "ROUTER_abc");
}

#[tokio::test]
async fn missing_garbage_unknown_and_revoked_tokens_are_401() {
    let app = spawn_app().await;
    let path = app.admin_path(FROM, TO, "");
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer garbage".to_owned(),
        format!("Basic {}", app.token_all),
        app.token_all.clone(),
        "Bearer atr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        format!("Bearer {}x", app.token_all),
    ] {
        let response = app.client.get(app.url(&path)).header("authorization", header.clone()).send().await.unwrap();
        assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
    }
    // Webex-only endpoints do not accept the Connect headers.
    let response = app.client.get(app.url(&path)).header("ci-token", &app.token_all).send().await.unwrap();
    assert_webex_error(response, StatusCode::UNAUTHORIZED).await;

    assert_eq!(app.get(&path, &app.token_all).await.status(), StatusCode::OK);
    app.store.revoke_token(&app.token_all_id).await.unwrap();
    assert_webex_error(app.get(&path, &app.token_all).await, StatusCode::UNAUTHORIZED).await;
    assert_webex_error(app.get("/v1/people/me", &app.token_all).await, StatusCode::UNAUTHORIZED).await;
    let response = app.connect(&app.token_all, &json!({"range": 1})).await;
    assert_connect_error(response, StatusCode::UNAUTHORIZED).await;
    // Other tokens of the org are unaffected.
    assert_eq!(app.get(&path, &app.token_audit).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = spawn_app().await;
    let past = auditrail_core::Timestamp::from_millis(now_ms() - 1_000).unwrap();
    let (_, secret) = app
        .store
        .create_token(
            &app.org,
            NewToken { scopes: vec![Scope::AuditEventsRead], name: None, email: None, expires: Some(past) },
        )
        .await
        .unwrap();
    let response = app.get("/v1/people/me", secret.expose()).await;
    assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
    let future = auditrail_core::Timestamp::from_millis(now_ms() + 3_600_000).unwrap();
    let (_, secret) = app
        .store
        .create_token(
            &app.org,
            NewToken { scopes: vec![Scope::AuditEventsRead], name: None, email: None, expires: Some(future) },
        )
        .await
        .unwrap();
    assert_eq!(app.get("/v1/people/me", secret.expose()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn errors_follow_the_documented_precedence() {
    let app = spawn_app().await;
    let other = enc(&app.other_org.to_string());
    let bad_params_other_org = format!("{ADMIN_EVENTS}?orgId={other}&from={}&to={}&max=0", enc(FROM), enc(TO));
    let good_params_other_org = format!("{ADMIN_EVENTS}?orgId={other}&from={}&to={}", enc(FROM), enc(TO));
    // 401 before everything.
    let response = app.client.get(app.url(&bad_params_other_org)).send().await.unwrap();
    assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
    // 403 scope before 400.
    assert_webex_error(app.get(&bad_params_other_org, &app.token_compliance).await, StatusCode::FORBIDDEN).await;
    assert_webex_error(app.get(ADMIN_EVENTS, &app.token_compliance).await, StatusCode::FORBIDDEN).await;
    assert_webex_error(app.get("/v1/events?resource=bogus&max=0", &app.token_audit).await, StatusCode::FORBIDDEN).await;
    // 400 before 403 org mismatch.
    let body =
        assert_webex_error(app.get(&bad_params_other_org, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("max"), "{body}");
    let too_long = format!("{ADMIN_EVENTS}?orgId={other}&from=2020-01-01T00:00:00Z&to={}", enc(TO));
    assert_webex_error(app.get(&too_long, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    // Then the org mismatch.
    assert_webex_error(app.get(&good_params_other_org, &app.token_audit).await, StatusCode::FORBIDDEN).await;
    // The first bad parameter in documented order is the one named.
    let path = format!("{ADMIN_EVENTS}?orgId=bad&from=bad&to=bad&max=0");
    let body = assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("orgId"), "{body}");
    // Ingest: 401, then 403 scope, then the kind.
    let items = json!([admin_event(FROM, "LOGINS", "a")]);
    assert_webex_error(app.ingest("bogus", &app.token_audit, &items).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_in_the_webex_shape() {
    let app = spawn_app().await;
    for path in ["/", "/v1", "/v1/nope", "/v2/adminAudit/events", "/v1/adminAudit/events/extra", "/auditrail/v1/nope"] {
        assert_webex_error(app.get(path, &app.token_all).await, StatusCode::NOT_FOUND).await;
    }
    for (method, path) in [
        (Method::POST, "/v1/adminAudit/events"),
        (Method::DELETE, "/v1/events"),
        (Method::PUT, "/v1/people/me"),
        (Method::POST, "/v1/adminAudit/eventCategories"),
        (Method::GET, "/auditrail/v1/ingest/admin"),
    ] {
        let response = app.client.request(method.clone(), app.url(path)).bearer_auth(&app.token_all).send().await;
        assert_webex_error(response.unwrap(), StatusCode::METHOD_NOT_ALLOWED).await;
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        tracking_id(&response);
    }
}

#[tokio::test]
async fn success_bodies_are_json() {
    let app = spawn_app().await;
    for path in [app.admin_path(FROM, TO, ""), "/v1/events".to_owned(), "/v1/people/me".to_owned()] {
        let response = app.get(&path, &app.token_all).await;
        let ct = response.headers().get(CONTENT_TYPE).unwrap().to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let _: Value = response.json().await.unwrap();
    }
}

#[tokio::test]
async fn hostile_queries_never_cause_a_server_error() {
    let app = spawn_app().await;
    app.ingest_ok("admin", &json!([admin_event("2024-03-01T00:00:00Z", "LOGINS", "a")])).await;
    let org = enc(&app.org.to_string());
    let long = "a".repeat(10_000);
    let huge = "9".repeat(400);
    let base = format!("orgId={org}&from={}&to={}", enc(FROM), enc(TO));
    let queries = vec![
        "orgId=%ZZ&from=%&to=%%".to_owned(),
        "%FF%FE=%C0%AF".to_owned(),
        format!("orgId=%FF%FE&from={}&to={}", enc(FROM), enc(TO)),
        format!("{base}&actorId=%FF"),
        format!("{base}&actorId=%00"),
        format!("{base}&actorId=a%00b"),
        format!("orgId={org}%00&from={}&to={}", enc(FROM), enc(TO)),
        format!("orgId={org}&from=2024-01-01T00:00:00%00Z&to={}", enc(TO)),
        format!("{base}&actorId={long}"),
        format!("{base}&eventCategories={long}"),
        format!("{base}&eventCategories={}", vec!["X"; 3000].join(",")),
        format!("orgId={long}&from={long}&to={long}"),
        format!("{base}&cursor={long}"),
        format!("{base}&cursor=%FF%FE"),
        format!("{base}&max={huge}"),
        format!("{base}&offset={huge}"),
        format!("{base}&offset=18446744073709551615"),
        format!("{base}&offset=9223372036854775807"),
        format!("{base}&offset=9223372036854775808"),
        format!("{base}&max=18446744073709551616"),
        format!("orgId={org}&from=0001-01-01T00:00:00Z&to=0001-12-31T00:00:00Z"),
        format!("orgId={org}&from=9999-01-01T00:00:00Z&to=9999-12-30T22:00:00.999Z"),
        format!("orgId={org}&from=9999-01-01T00:00:00Z&to=9999-12-30T22:00:00.000Z"),
        format!("orgId={org}&from=9999-12-30T22:00:00.000Z&to=9999-12-30T22:00:00.000Z&max=1"),
        format!("orgId={org}&from=9999-12-30T21:59:59.999Z&to=9999-12-30T23:59:59.999%2B01:59"),
        format!("orgId={org}&from=0001-01-01T00:00:00.000Z&to=0001-01-01T00:00:00.000Z"),
        format!("orgId={org}&from=0001-01-01T00:00:00.000%2B01:00&to=0001-01-01T00:00:00.000Z"),
        format!("orgId={org}&from=9999-12-31T23:59:59.999%2B23:59&to=9999-12-31T23:59:59.999Z"),
        format!("orgId={org}&from=0001-01-01T00:00:00-23:59&to=0001-01-01T00:00:00Z"),
        format!("orgId={org}&from=2024-01-01T00:00:00.123456789123Z&to={}", enc(TO)),
        format!("{base}&{}", (0..2000).map(|i| format!("p{i}=v")).collect::<Vec<_>>().join("&")),
        format!("{base}&eventCategories=%E2%80%AE%F0%9F%98%80"),
        "&&&===&&&".to_owned(),
    ];
    // Every offender is collected, so one run reports them all.
    let mut server_errors = Vec::new();
    for q in &queries {
        for path in ["/v1/adminAudit/events", "/v1/events"] {
            let url = app.url(&format!("{path}?{q}"));
            let response = app.client.get(&url).bearer_auth(&app.token_all).send().await.unwrap();
            let status = response.status();
            if status.as_u16() >= 500 {
                server_errors.push(format!("{path}?{}: {status}", &q[..q.len().min(200)]));
            } else if !status.is_success() {
                assert_webex_error(response, status).await;
            }
        }
    }
    let compliance_queries = [
        "from=0001-01-01T00:00:00Z".to_owned(),
        format!("from=0001-01-01T00:00:00Z&offset={huge}"),
        "offset=18446744073709551615".to_owned(),
        "to=9999-12-30T22:00:00Z".to_owned(),
        "from=0001-01-01T00:00:00Z&to=0001-01-01T00:00:00Z&max=1".to_owned(),
        "from=0000-12-31T23:00:00-01:00".to_owned(),
        format!("resource={long}"),
        "type=%00".to_owned(),
        "serviceType=%FF".to_owned(),
    ];
    for q in compliance_queries {
        let response = app.get(&format!("/v1/events?{q}"), &app.token_all).await;
        if response.status().as_u16() >= 500 {
            server_errors.push(format!("/v1/events?{}: {}", &q[..q.len().min(200)], response.status()));
        }
    }
    for id in ["%00", "%FF%FE", "..%2F..%2Fetc", &"x".repeat(5000), "a%0Ab", "%20", "%2F"] {
        let response = app.get(&format!("/v1/events/{id}"), &app.token_all).await;
        let status = response.status();
        assert!(status.is_client_error(), "/v1/events/{}: {status}", &id[..id.len().min(50)]);
        for path in [format!("/v1/organizations/{id}"), format!("/auditrail/v1/ingest/{id}")] {
            let response = app.get(&path, &app.token_all).await;
            assert!(response.status().as_u16() < 500, "{path}: {}", response.status());
        }
    }
    // Huge header values.
    let response =
        app.client.get(app.url("/v1/people/me")).header("authorization", format!("Bearer {long}")).send().await;
    assert!(response.unwrap().status().as_u16() < 500);
    let response = app.client.get(app.url("/v1/people/me")).bearer_auth(&app.token_all).header("TrackingID", &long);
    let response = response.send().await.unwrap();
    assert!(response.status().as_u16() < 500);
    assert_ne!(tracking_id(&response), long, "an oversized client tracking id is replaced");
    assert!(server_errors.is_empty(), "hostile queries answered with 5xx:\n{}", server_errors.join("\n"));
}

#[tokio::test]
async fn hostile_bodies_never_cause_a_server_error() {
    let app = spawn_app().await;
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let nested_item = format!(
        "[{{\"actorId\":\"a\",\"data\":{{\"eventCategory\":\"X\",\"deep\":{}1{}}}}}]",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", deep_array.clone().into_bytes()),
        ("application/json", deep_object.clone().into_bytes()),
        ("application/json", nested_item.into_bytes()),
        ("application/json", format!("{{\"items\":{deep_array}}}").into_bytes()),
        ("application/x-ndjson", deep_object.clone().into_bytes()),
        ("application/json", vec![0xFF, 0xFE, b'[', b']']),
        ("application/json", b"[\"\\ud800\"]".to_vec()),
        ("application/json", b"[{\"actorId\":\"a\x00\",\"data\":{\"eventCategory\":\"X\"}}]".to_vec()),
        ("application/json", b"[{\"id\":\"a\\u0000b\",\"actorId\":\"a\",\"data\":{\"eventCategory\":\"X\"}}]".to_vec()),
        ("application/json", b"[{\"actorId\":\"a\",\"data\":{\"eventCategory\":\"\\u0000\"}}]".to_vec()),
        (
            "application/json",
            b"[{\"actorId\":\"a\",\"created\":\"9999-12-31T23:59:59.999-23:59\",\"data\":{\"eventCategory\":\"X\"}}]"
                .to_vec(),
        ),
        ("application/json", b"[{\"actorId\":\"a\",\"data\":{\"eventCategory\":\"X\",\"n\":1e999999}}]".to_vec()),
        (
            "application/json",
            format!("[{{\"actorId\":\"a\",\"data\":{{\"eventCategory\":\"X\",\"n\":{}}}}}]", "9".repeat(5000))
                .into_bytes(),
        ),
        ("application/json", b"[{\"actorId\":\"a\",\"actorId\":\"b\",\"data\":{\"eventCategory\":\"X\"}}]".to_vec()),
        ("application/x-ndjson", b"\n\n\n".to_vec()),
        ("application/json", b"[]".to_vec()),
    ];
    let mut server_errors = Vec::new();
    for kind in ["admin", "compliance", "connect"] {
        for (ct, body) in &bodies {
            let response = app.ingest_raw(kind, &app.token_all, Some(ct), body.clone()).await;
            let status = response.status();
            if status.as_u16() >= 500 {
                server_errors
                    .push(format!("{kind} {ct} {}: {status}", String::from_utf8_lossy(&body[..body.len().min(80)])));
            } else if !status.is_success() {
                assert_webex_error(response, status).await;
            }
        }
    }
    let connect_bodies = [
        deep_array.clone(),
        deep_object.clone(),
        format!("{{\"range\":{deep_array}}}"),
        "{\"range\":\"custom\",\"from\":\"0001-01-01T00:00:00Z\",\"to\":\"0001-12-31T00:00:00Z\"}".to_owned(),
        "{\"range\":1,\"offset\":18446744073709551615}".to_owned(),
        "{\"range\":1,\"offset\":\"999999999999999999999999\"}".to_owned(),
        "{\"range\":1,\"max\":1e400}".to_owned(),
        "{\"range\":1e400}".to_owned(),
        "{\"range\":99999999999999999999999999}".to_owned(),
        format!("{{\"range\":1,\"actorIds\":\"{}\"}}", vec!["x"; 5000].join(",")),
        "{\"range\":1,\"eventCategories\":\"\\u0000\"}".to_owned(),
        "{\"range\":1,\"adminRoles\":[[]]}".to_owned(),
    ];
    for body in connect_bodies {
        let response = app
            .client
            .post(app.url(CONNECT_EXPORT))
            .bearer_auth(&app.token_all)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status.as_u16() >= 500 {
            server_errors.push(format!("connect {}: {status}", &body[..body.len().min(80)]));
        } else if !status.is_success() {
            assert_connect_error(response, status).await;
        }
    }
    // Still serving.
    assert_eq!(app.get("/v1/people/me", &app.token_all).await.status(), StatusCode::OK);
    assert!(server_errors.is_empty(), "hostile bodies answered with 5xx:\n{}", server_errors.join("\n"));
}

/// Sends raw bytes over TCP and returns the status code of the response (None if the server just
/// closed the connection, which is also acceptable for unparseable requests).
async fn raw_request(app: &TestApp, request: &[u8]) -> Option<u16> {
    let addr = app.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server neither answered nor closed the connection");
    let text = String::from_utf8_lossy(&buf);
    text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok())
}

#[tokio::test]
async fn raw_invalid_utf8_and_nul_in_the_request_line_never_cause_a_server_error() {
    let app = spawn_app().await;
    let auth = format!("Authorization: Bearer {}\r\n", app.token_all);
    let org = enc(&app.org.to_string());
    let targets: Vec<Vec<u8>> = vec![
        [b"/v1/adminAudit/events?orgId=".as_slice(), &[0xFF, 0xFE], b"&from=x&to=y"].concat(),
        [
            format!("/v1/adminAudit/events?orgId={org}&from={}&to={}&actorId=", enc(FROM), enc(TO)).as_bytes(),
            &[0xC0, 0xAF],
        ]
        .concat(),
        [b"/v1/events?resource=".as_slice(), &[0xE2, 0x82]].concat(),
        [b"/v1/events/".as_slice(), &[0xFF]].concat(),
        b"/v1/events?resource=a\0b".to_vec(),
        b"/v1/events?%".to_vec(),
    ];
    for target in targets {
        let request = [
            b"GET ".as_slice(),
            &target,
            b" HTTP/1.1\r\nHost: localhost\r\n",
            auth.as_bytes(),
            b"Connection: close\r\n\r\n",
        ]
        .concat();
        if let Some(status) = raw_request(&app, &request).await {
            assert!(status < 500, "{}: {status}", String::from_utf8_lossy(&target));
        }
    }
    // Still serving.
    assert_eq!(app.get("/v1/people/me", &app.token_all).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let app = spawn_app().await;
    app.ingest_ok("admin", &json!([admin_event(FROM, "LOGINS", "a")])).await;
    // Server-wide figures: an operator token only on the API listener.
    assert_webex_error(app.client.get(app.url("/metrics")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert_webex_error(app.get("/metrics", &app.token_audit).await, StatusCode::FORBIDDEN).await;
    let response = app.get("/metrics", &app.token_all).await;
    assert_eq!(response.status(), StatusCode::OK);
    tracking_id(&response);
    let ct = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(ct.starts_with("text/plain"), "Prometheus text format: {ct}");
    let text = response.text().await.unwrap();
    assert!(text.lines().any(|l| l.starts_with("# TYPE ")), "{text}");
    assert!(!text.contains(&app.token_all), "metrics never show secrets");
}

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_an_integer_retry_after() {
    // A burst of 3 that refills once every 1000 s: the 4th request is over the limit however
    // fast or slow the machine is.
    let limit = auditrail_server::RateLimit { per_second: 0.001, burst: 3.0 };
    let app = spawn_app_with(auditrail_server::ServerConfig { rate_limit: Some(limit), ..Default::default() }).await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/people/me", &app.token_audit).await.status(), StatusCode::OK);
    }
    let response = app.get("/v1/people/me", &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after =
        response.headers().get("retry-after").expect("429 carries Retry-After").to_str().unwrap().to_owned();
    let seconds: u64 = retry_after.parse().unwrap_or_else(|_| panic!("Retry-After is integer seconds: {retry_after}"));
    assert!((1..=1000).contains(&seconds), "{retry_after}");
    assert_webex_error(response, StatusCode::TOO_MANY_REQUESTS).await;
    // The limit is per token.
    assert_eq!(app.get("/v1/people/me", &app.token_all).await.status(), StatusCode::OK);
    // Connect errors keep their shape.
    let response = app.connect(&app.token_audit, &json!({"range": 1})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    assert_connect_error(response, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn responses_are_never_cached_or_sniffed_and_401_names_the_scheme() {
    let app = spawn_app().await;
    for (path, token) in [("/v1/people/me", app.token_all.as_str()), ("/v1/events", "atr_wrong"), ("/nowhere", "x")] {
        let response = app.get(path, token).await;
        let headers = response.headers();
        assert_eq!(headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"), "{path}");
        assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{path}");
    }
    let unauthorized = app.get("/v1/events", "atr_wrong").await;
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorized.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let app = spawn_app().await;
    let request = format!(
        "GET /v1/people/me HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.token_all
    );
    assert_eq!(raw_request(&app, request.as_bytes()).await, Some(400));
}

#[tokio::test]
async fn behind_a_trusted_proxy_links_use_its_right_most_hop_in_any_case() {
    let config = auditrail_server::ServerConfig { trust_proxy: true, ..auditrail_server::ServerConfig::default() };
    let app = spawn_app_with(config).await;
    let events: Vec<Value> = (0..3).map(|i| admin_event(&at(FROM, i + 1000), "LOGINS", "a")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    let response = app
        .client
        .get(app.url(&app.admin_path(FROM, TO, "max=1")))
        .bearer_auth(&app.token_all)
        .header("X-Forwarded-Host", "attacker.example, audit.example.com")
        .header("X-Forwarded-Proto", "HTTPS")
        .send()
        .await
        .expect("request");
    let link = next_link(response.headers()).expect("link");
    assert!(link.starts_with("https://audit.example.com/v1/adminAudit/events?"), "{link}");
}
