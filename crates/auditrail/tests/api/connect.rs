//! `POST /connectapi/v1/auditManager/audit-logs/export`.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::*;

const DAY: i64 = 86_400_000;
const T0: &str = "2024-03-01T12:00:00.000Z";
const FROM: &str = "2024-02-01T00:00:00.000Z";
const TO: &str = "2024-04-01T00:00:00.000Z";

fn logs(body: &Value) -> Vec<Value> {
    body["auditLogs"].as_array().unwrap_or_else(|| panic!("no auditLogs: {body}")).clone()
}

fn custom(extra: Value) -> Value {
    let mut body = json!({"range": "custom", "from": FROM, "to": TO});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn every_documented_auth_header_works_and_a_missing_token_is_401() {
    let app = spawn_app().await;
    app.ingest_ok("connect", &json!([connect_event(T0, "LOGINS", "a@x.example", &["Owner"])])).await;
    let body = custom(json!({})).to_string();
    let send = |header: Option<(&str, String)>| {
        let mut request = app.client.post(app.url(CONNECT_EXPORT)).header(CONTENT_TYPE, "application/json");
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.body(body.clone()).send()
    };
    for (name, value) in [
        ("authorization", format!("Bearer {}", app.token_audit)),
        ("ci-token", app.token_audit.clone()),
        ("accesstoken", app.token_audit.clone()),
    ] {
        let response = send(Some((name, value))).await.unwrap();
        let tracking = tracking_id(&response);
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["totalRecords"], 1, "{name}: {body}");
        assert_eq!(body["transid"].as_str(), Some(tracking.as_str()));
    }
    assert_connect_error(send(None).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    for (name, value) in [
        ("authorization", "Bearer nope".to_owned()),
        ("ci-token", "atr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()),
        ("accesstoken", String::new()),
    ] {
        assert_connect_error(send(Some((name, value))).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    }
    // Scope: a compliance-only token may not export.
    let response = app.connect(&app.token_compliance, &custom(json!({}))).await;
    assert_connect_error(response, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn ranges_select_utc_days() {
    let now = now_ms();
    let today = now.div_euclid(DAY) * DAY;
    if today + DAY - now < 120_000 {
        eprintln!("skipped: too close to midnight UTC for day-window assertions");
        return;
    }
    let app = spawn_app().await;
    let moments = [
        ("3ago-minus-1ms", today - 3 * DAY - 1),
        ("3ago-start", today - 3 * DAY),
        ("2ago-noon", today - 2 * DAY + DAY / 2),
        ("yesterday-start", today - DAY),
        ("yesterday-end", today - 1),
        ("today-start", today),
        ("just-now", (now - 1000).max(today)),
        ("future", now + 3_600_000),
    ];
    let events: Vec<Value> = moments
        .iter()
        .map(|(name, ms)| {
            let mut e = connect_event(&ts(*ms), "LOGINS", "a@x.example", &[]);
            e["actionText"] = json!(name);
            e
        })
        .collect();
    app.ingest_ok("connect", &json!(events)).await;
    let names = |body: &Value| -> Vec<String> {
        logs(body).iter().map(|e| e["actionText"].as_str().unwrap().to_owned()).collect()
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"range": 0}), vec!["yesterday-start", "yesterday-end"]),
        (json!({"range": "0"}), vec!["yesterday-start", "yesterday-end"]),
        (json!({"range": 1}), vec!["today-start", "just-now"]),
        (json!({"range": "1"}), vec!["today-start", "just-now"]),
        (
            json!({"range": "1", "from": "2020-01-01T00:00:00.000Z", "to": "2020-01-02T00:00:00.000Z"}),
            vec!["today-start", "just-now"],
        ),
        (json!({"range": 0, "from": "garbage", "to": 7}), vec!["yesterday-start", "yesterday-end"]),
        (json!({"range": 2}), vec!["2ago-noon", "yesterday-start", "yesterday-end", "today-start", "just-now"]),
        (
            json!({"range": "3"}),
            vec!["3ago-start", "2ago-noon", "yesterday-start", "yesterday-end", "today-start", "just-now"],
        ),
        (
            json!({"range": 365}),
            vec![
                "3ago-minus-1ms",
                "3ago-start",
                "2ago-noon",
                "yesterday-start",
                "yesterday-end",
                "today-start",
                "just-now",
            ],
        ),
        (
            json!({"range": "custom", "from": ts(today - DAY), "to": ts(today)}),
            vec!["yesterday-start", "yesterday-end", "today-start"],
        ),
    ];
    for (request, expected) in cases {
        let body = app.connect_ok(&request).await;
        assert_eq!(names(&body), expected, "{request}");
        assert_eq!(body["totalRecords"], expected.len(), "{request}");
        assert_eq!(body["resultSize"], expected.len(), "{request}");
    }
}

#[tokio::test]
async fn invalid_ranges_are_400_in_the_connect_shape() {
    let app = spawn_app().await;
    let bad = [
        json!({"range": -1}),
        json!({"range": "-1"}),
        json!({"range": 1.5}),
        json!({"range": "1.5"}),
        json!({"range": 366}),
        json!({"range": "366"}),
        json!({"range": "abc"}),
        json!({"range": ""}),
        json!({"range": true}),
        json!({"range": [1]}),
        json!({"range": "custom", "from": FROM}),
        json!({"range": "custom", "to": TO}),
        json!({"range": "custom", "from": TO, "to": FROM}),
        json!({"range": "custom", "from": "2024-02-01", "to": TO}),
        json!({"range": "custom", "from": "2022-01-01T00:00:00Z", "to": TO}),
        json!({}),
    ];
    for request in bad {
        let body = assert_connect_error(app.connect(&app.token_all, &request).await, StatusCode::BAD_REQUEST).await;
        assert!(!body["description"].as_str().unwrap().is_empty(), "{request}");
    }
}

#[tokio::test]
async fn total_counts_every_match_while_the_page_is_offset_and_max() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..25).map(|i| connect_event(&at(T0, i), "LOGINS", "a@x.example", &[])).collect();
    app.ingest_ok("connect", &json!(events)).await;
    let body = app.connect_ok(&custom(json!({"offset": 20, "max": 10}))).await;
    assert_eq!(body["totalRecords"], 25);
    assert_eq!(body["resultSize"], 5);
    assert_eq!(ids(&logs(&body)), ids(&events[20..]));
    let body = app.connect_ok(&custom(json!({"offset": 5, "max": 3}))).await;
    assert_eq!(body["totalRecords"], 25);
    assert_eq!(body["resultSize"], 3);
    assert_eq!(ids(&logs(&body)), ids(&events[5..8]));
    let body = app.connect_ok(&custom(json!({"offset": 100}))).await;
    assert_eq!((body["totalRecords"].as_u64(), body["resultSize"].as_u64()), (Some(25), Some(0)));
    for bad in [
        json!({"max": 0}),
        json!({"max": "0"}),
        json!({"max": -1}),
        json!({"max": "abc"}),
        json!({"offset": -1}),
        json!({"offset": "x"}),
    ] {
        let request = custom(bad.clone());
        assert_connect_error(app.connect(&app.token_all, &request).await, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn max_defaults_to_2000_and_clamps_to_10000() {
    let app = spawn_app().await;
    let all: Vec<Value> = (0..10_005).map(|i| small_connect_event(&at(T0, i))).collect();
    app.ingest_ok("connect", &json!(all[..5000])).await;
    app.ingest_ok("connect", &json!(all[5000..])).await;
    let body = app.connect_ok(&custom(json!({}))).await;
    assert_eq!(body["totalRecords"], 10_005);
    assert_eq!(body["resultSize"], 2000);
    assert_eq!(logs(&body).len(), 2000);
    assert_eq!(logs(&body)[0]["id"], all[0]["id"]);
    let body = app.connect_ok(&custom(json!({"max": 50_000}))).await;
    assert_eq!(body["resultSize"], 10_000);
    assert_eq!(logs(&body).len(), 10_000);
    let body = app.connect_ok(&custom(json!({"max": 10_000, "offset": 10_000}))).await;
    assert_eq!(ids(&logs(&body)), ids(&all[10_000..]));
}

#[tokio::test]
async fn category_actor_and_role_filters() {
    let app = spawn_app().await;
    let mut with_actor_id = connect_event(&at(T0, 4), "USERS", "dora@x.example", &["Supervisor"]);
    with_actor_id["actorId"] = json!("ACTOR-ID-1");
    let e = [
        connect_event(T0, "LOGINS", "alice@x.example", &["Owner"]),
        connect_event(&at(T0, 1), "USERS", "bob@x.example", &["Admin", "Supervisor"]),
        connect_event(&at(T0, 2), "LOGINS", "carol@x.example", &[]),
        connect_event(&at(T0, 3), "CHANNELS", "alice@x.example", &["Agent"]),
        with_actor_id,
    ];
    app.ingest_ok("connect", &json!(e)).await;
    let id = |i: usize| e[i]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(Value, Vec<String>)> = vec![
        (json!({"eventCategories": "LOGINS"}), vec![id(0), id(2)]),
        (json!({"eventCategories": "LOGINS,CHANNELS"}), vec![id(0), id(2), id(3)]),
        (json!({"eventCategories": "logins"}), vec![]),
        (json!({"eventCategories": ""}), (0..5).map(id).collect()),
        (json!({"actorIds": "alice@x.example"}), vec![id(0), id(3)]),
        (json!({"actorIds": "ACTOR-ID-1"}), vec![id(4)]),
        (json!({"actorIds": "bob@x.example,ACTOR-ID-1"}), vec![id(1), id(4)]),
        (json!({"actorIds": "dora@x.example"}), vec![id(4)]),
        (json!({"actorIds": ""}), (0..5).map(id).collect()),
        (json!({"adminRoles": "Supervisor"}), vec![id(1), id(4)]),
        (json!({"adminRoles": "Owner,Agent"}), vec![id(0), id(3)]),
        (json!({"adminRoles": "Nobody"}), vec![]),
        (json!({"adminRoles": ""}), (0..5).map(id).collect()),
        (json!({"eventCategories": "USERS", "adminRoles": "Supervisor", "actorIds": "bob@x.example"}), vec![id(1)]),
        (json!({"eventCategories": "", "adminRoles": "", "actorIds": ""}), (0..5).map(id).collect()),
    ];
    for (filters, expected) in cases {
        let body = app.connect_ok(&custom(filters.clone())).await;
        assert_eq!(ids(&logs(&body)), expected, "{filters}");
        assert_eq!(body["totalRecords"], expected.len(), "{filters}");
    }
}

#[tokio::test]
async fn served_logs_keep_the_seed_shape() {
    let app = spawn_app().await;
    let e = connect_event("2024-03-01T13:00:00.123456+01:00", "LOGINS", "a@x.example", &["Owner", "Admin"]);
    app.ingest_ok("connect", &json!([e])).await;
    let body = app.connect_ok(&custom(json!({}))).await;
    let got = &logs(&body)[0];
    assert_eq!(got["created"], "2024-03-01T12:00:00.123Z");
    for key in [
        "actionText",
        "statusOfAction",
        "eventCategory",
        "adminRoles",
        "transid",
        "groupId",
        "eventDescription",
        "actorEmail",
        "serviceId",
        "actorIp",
        "id",
    ] {
        assert_eq!(got[key], e[key], "{key}");
    }
    // Isolation: the other org sees none of it.
    let response = app.connect(&app.other_token_all, &custom(json!({}))).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["totalRecords"], 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_in_the_connect_shape() {
    let app = spawn_app().await;
    for raw in ["{", "not json", "[]", "\"range\"", "", "{\"range\": 1,}"] {
        let response = app
            .client
            .post(app.url(CONNECT_EXPORT))
            .bearer_auth(&app.token_all)
            .header(CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_connect_error(response, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn wrong_method_and_unknown_paths_use_the_connect_shape() {
    let app = spawn_app().await;
    let response = app.client.get(app.url(CONNECT_EXPORT)).bearer_auth(&app.token_all).send().await.unwrap();
    assert_connect_error(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response =
        app.client.get(app.url("/connectapi/v1/auditManager/nope")).bearer_auth(&app.token_all).send().await.unwrap();
    assert_connect_error(response, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_client_tracking_id_becomes_the_transid() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url(CONNECT_EXPORT))
        .bearer_auth(&app.token_all)
        .header("TrackingID", "SIMPLE_c0ffee00-1234-4321-8888-000000000001")
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"range": "1"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(tracking_id(&response), "SIMPLE_c0ffee00-1234-4321-8888-000000000001");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["transid"], "SIMPLE_c0ffee00-1234-4321-8888-000000000001");
    let response = app
        .client
        .post(app.url(CONNECT_EXPORT))
        .header("TrackingID", "SIMPLE_err")
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = assert_connect_error(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["transid"], "SIMPLE_err");
}
