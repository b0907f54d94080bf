//! `GET /v1/events` and `GET /v1/events/{eventId}`.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::helpers::*;

const T0: &str = "2024-03-01T12:00:00.000Z";

fn query_pairs(url: &str) -> Vec<(String, String)> {
    Url::parse(url).expect("valid URL").query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn list(app: &TestApp, query: &str) -> Vec<Value> {
    items(&app.get_json(&format!("/v1/events?{query}"), &app.token_compliance).await)
}

#[tokio::test]
async fn unknown_resource_type_or_service_type_is_400_naming_the_allowed_values() {
    let app = spawn_app().await;
    let cases: [(&str, &str, &[&str]); 4] = [
        ("resource=bogus", "resource", &["call_records", "convergedRecordings", "meetingTranscripts", "tabs"]),
        ("resource=callRecords", "resource", &["call_records"]),
        ("type=read", "type", &["created", "updated", "deleted", "ended"]),
        ("serviceType=video", "serviceType", &["calling"]),
    ];
    for (query, name, allowed) in cases {
        let response = app.get(&format!("/v1/events?{query}"), &app.token_compliance).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(name), "{query}: {body}");
        for value in allowed {
            assert!(message.contains(value), "{query}: must list {value}: {body}");
        }
    }
}

#[tokio::test]
async fn all_thirteen_resources_and_four_types_are_accepted() {
    let app = spawn_app().await;
    let resources = [
        "attachmentActions",
        "businessTexts",
        "call_records",
        "file_transcodings",
        "files",
        "meetingMessages",
        "meetings",
        "meetingTranscripts",
        "memberships",
        "messages",
        "rooms",
        "tabs",
    ];
    for resource in resources {
        assert!(list(&app, &format!("resource={resource}")).await.is_empty());
    }
    assert!(list(&app, "resource=convergedRecordings&serviceType=calling").await.is_empty());
    for t in ["created", "updated", "deleted", "ended"] {
        assert!(list(&app, &format!("type={t}")).await.is_empty());
    }
}

#[tokio::test]
async fn converged_recordings_require_service_type_calling() {
    let app = spawn_app().await;
    let mut recording = compliance_event(T0, "convergedRecordings", "created", "a");
    recording["data"]["serviceType"] = json!("calling");
    app.ingest_ok("compliance", &json!([recording, compliance_event(T0, "messages", "created", "a")])).await;
    let response = app.get("/v1/events?resource=convergedRecordings", &app.token_compliance).await;
    let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("serviceType"), "{body}");
    let got = list(&app, "resource=convergedRecordings&serviceType=calling").await;
    assert_eq!(ids(&got), ids(&[recording]));
}

#[tokio::test]
async fn to_more_than_30_seconds_ahead_is_400() {
    let app = spawn_app().await;
    let far = ts(now_ms() + 10 * 60_000);
    let response = app.get(&format!("/v1/events?to={}", enc(&far)), &app.token_compliance).await;
    let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("to"), "{body}");
    // A client clock a few seconds ahead is tolerated.
    let near = ts(now_ms() + 5_000);
    let response = app.get(&format!("/v1/events?to={}", enc(&near)), &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    // from after to.
    let response = app
        .get(&format!("/v1/events?from={}&to={}", enc("2024-03-02T00:00:00Z"), enc(T0)), &app.token_compliance)
        .await;
    assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    let response = app.get("/v1/events?from=2024-03-02", &app.token_compliance).await;
    assert_webex_error(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn max_defaults_to_100_clamps_to_1000_and_rejects_zero() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..1100).map(|i| compliance_event(&at(T0, i), "messages", "created", "a")).collect();
    app.ingest_ok("compliance", &json!(events)).await;
    assert_eq!(list(&app, "").await.len(), 100);
    let response = app.get("/v1/events?max=5000", &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(next_link(response.headers()).is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(items(&body).len(), 1000);
    assert_eq!(list(&app, "max=1000").await.len(), 1000);
    for bad in ["max=0", "max=-5", "max=ten"] {
        let response = app.get(&format!("/v1/events?{bad}"), &app.token_compliance).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains("max"), "{body}");
    }
}

#[tokio::test]
async fn filters_select_exactly_and_bounds_are_inclusive() {
    let app = spawn_app().await;
    let e = [
        compliance_event(&at(T0, -1), "messages", "created", "alice"),
        compliance_event(T0, "messages", "created", "alice"),
        compliance_event(&at(T0, 1), "messages", "deleted", "bob"),
        compliance_event(&at(T0, 2), "rooms", "created", "alice"),
        compliance_event(&at(T0, 3), "meetings", "ended", "carol"),
        compliance_event(&at(T0, 4), "messages", "updated", "alice"),
    ];
    app.ingest_ok("compliance", &json!(e)).await;
    let id = |i: usize| e[i]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(String, Vec<String>)> = vec![
        ("resource=messages".into(), vec![id(0), id(1), id(2), id(5)]),
        ("type=created".into(), vec![id(0), id(1), id(3)]),
        ("resource=messages&type=created".into(), vec![id(0), id(1)]),
        ("actorId=alice".into(), vec![id(0), id(1), id(3), id(5)]),
        ("actorId=ALICE".into(), vec![]),
        ("resource=meetings&type=ended".into(), vec![id(4)]),
        (format!("from={}&to={}", enc(T0), enc(&at(T0, 3))), vec![id(1), id(2), id(3), id(4)]),
        (format!("from={}", enc(&at(T0, 4))), vec![id(5)]),
        (format!("to={}", enc(&at(T0, -1))), vec![id(0)]),
        ("resource=&type=&actorId=".into(), (0..6).map(id).collect()),
        ("offset=2&max=3".into(), vec![id(2), id(3), id(4)]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&list(&app, &query).await), expected, "{query}");
    }
}

#[tokio::test]
async fn list_is_oldest_first_and_serves_the_canonical_org_id() {
    let app = spawn_app().await;
    let e = [
        compliance_event(&at(T0, 5), "messages", "created", "a"),
        compliance_event(T0, "messages", "created", "a"),
        compliance_event(&at(T0, 5), "messages", "created", "a"),
    ];
    app.ingest_ok("compliance", &json!(e)).await;
    let got = list(&app, "").await;
    assert_eq!(ids(&got), ids(&[e[1].clone(), e[0].clone(), e[2].clone()]));
    for item in &got {
        assert_eq!(item["orgId"], app.org.to_string());
    }
}

#[tokio::test]
async fn telephony_values_stay_strings_exactly_as_ingested() {
    let app = spawn_app().await;
    let mut call = compliance_event(T0, "call_records", "ended", "a");
    call["data"] = json!({
        "callDurationSeconds": "192",
        "isCallAnswered": "true",
        "callingNumber": "+14085551234",
        "calledNumber": "0044 20 7946 0000",
        "startTime": "2024-03-01T11:56:48.000+0000",
        "ringDurationSeconds": "0",
        "callRecordingIndicator": "false",
        "numericForComparison": 192,
    });
    app.ingest_ok("compliance", &json!([call])).await;
    let got = list(&app, "resource=call_records").await;
    assert_eq!(got[0]["data"], call["data"]);
    let one = app.get_json(&format!("/v1/events/{}", enc(call["id"].as_str().unwrap())), &app.token_compliance).await;
    assert_eq!(one["data"], call["data"]);
}

#[tokio::test]
async fn get_by_id_returns_the_bare_object() {
    let app = spawn_app().await;
    // Ids are opaque; base64 ids can contain '/', '+' and '='.
    let awkward = format!("Y2lz+/c28=={}", uuid::Uuid::new_v4().simple());
    let mut e = compliance_event(T0, "messages", "created", "a");
    e["id"] = json!(awkward);
    let plain = compliance_event(&at(T0, 1), "rooms", "created", "b");
    app.ingest_ok("compliance", &json!([e, plain])).await;
    let listed = list(&app, "").await;
    for (i, id) in [awkward.as_str(), plain["id"].as_str().unwrap()].into_iter().enumerate() {
        let one = app.get_json(&format!("/v1/events/{}", enc(id)), &app.token_compliance).await;
        assert!(one.get("items").is_none(), "bare object, not a list: {one}");
        assert_eq!(one, listed[i]);
        assert_eq!(one["id"], id);
    }
}

#[tokio::test]
async fn unknown_other_orgs_and_non_compliance_ids_are_404() {
    let app = spawn_app().await;
    let admin = admin_event(T0, "LOGINS", "a");
    app.ingest_ok("admin", &json!([admin])).await;
    let theirs = compliance_event(T0, "messages", "created", "o");
    let r = app.ingest("compliance", &app.other_token_all, &json!([theirs])).await;
    assert_eq!(r.status(), StatusCode::OK);
    for id in [event_id(), theirs["id"].as_str().unwrap().to_owned(), admin["id"].as_str().unwrap().to_owned()] {
        let response = app.get(&format!("/v1/events/{}", enc(&id)), &app.token_compliance).await;
        assert_webex_error(response, StatusCode::NOT_FOUND).await;
    }
    // The owner does see it.
    let path = format!("/v1/events/{}", enc(theirs["id"].as_str().unwrap()));
    assert_eq!(app.get(&path, &app.other_token_all).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reading_requires_the_compliance_scope() {
    let app = spawn_app().await;
    let e = compliance_event(T0, "messages", "created", "a");
    app.ingest_ok("compliance", &json!([e])).await;
    let one = format!("/v1/events/{}", enc(e["id"].as_str().unwrap()));
    for token in [&app.token_audit, &app.token_ingest] {
        assert_webex_error(app.get("/v1/events", token).await, StatusCode::FORBIDDEN).await;
        assert_webex_error(app.get(&one, token).await, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.get(&one, &app.token_all).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_link_with_a_cursor_and_a_walk_sees_everything_once() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..23).map(|i| compliance_event(&at(T0, i / 3), "messages", "created", "a")).collect();
    app.ingest_ok("compliance", &json!(events)).await;
    let first = app.get("/v1/events?resource=messages&max=2", &app.token_compliance).await;
    let link = next_link(first.headers()).expect("link");
    assert!(link.starts_with(&format!("{}/v1/events?", app.base)), "{link}");
    let pairs = query_pairs(&link);
    let has = |name: &str| pairs.iter().any(|(k, _)| k == name);
    assert!(has("cursor"), "{link}");
    assert!(pairs.iter().any(|(k, v)| k == "resource" && v == "messages"), "{link}");
    assert!(pairs.iter().any(|(k, v)| k == "max" && v == "2"), "{link}");
    assert!(!has("offset"), "compliance links carry only the cursor: {link}");
    let got = app.walk("/v1/events?resource=messages&max=2", &app.token_compliance).await;
    assert_eq!(ids(&got), ids(&events));
}

#[tokio::test]
async fn a_walk_without_to_is_pinned_and_tampered_cursors_are_400() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..6).map(|i| compliance_event(&at(T0, i), "messages", "created", "a")).collect();
    app.ingest_ok("compliance", &json!(events)).await;
    let first = app.get("/v1/events?max=2", &app.token_compliance).await;
    let link = next_link(first.headers()).expect("link");
    // Ingested after the first page, even in the past: not part of this walk.
    app.ingest_ok("compliance", &json!([compliance_event(&at(T0, -1000), "messages", "created", "late")])).await;
    let mut got = items(&first.json::<Value>().await.unwrap());
    got.extend(app.walk(&link, &app.token_compliance).await);
    assert_eq!(ids(&got), ids(&events));

    let changed = link.replace("max=2", "max=2&resource=rooms");
    assert_webex_error(app.get_absolute(&changed, &app.token_compliance).await, StatusCode::BAD_REQUEST).await;
    let (head, cursor) = link.split_once("cursor=").unwrap();
    let mut bytes = cursor.as_bytes().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'Q' { b'R' } else { b'Q' };
    let forged = format!("{head}cursor={}", String::from_utf8(bytes).unwrap());
    assert_webex_error(app.get_absolute(&forged, &app.token_compliance).await, StatusCode::BAD_REQUEST).await;
    // Another org's token with this cursor gets no data.
    let response = app.get_absolute(&link, &app.other_token_all).await;
    assert!(matches!(response.status(), StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN), "{}", response.status());
}

#[tokio::test]
async fn known_parameter_twice_with_different_values_is_400() {
    let app = spawn_app().await;
    for query in ["resource=messages&resource=rooms", "type=created&type=deleted", "max=1&max=2", "actorId=a&actorId=b"]
    {
        let response = app.get(&format!("/v1/events?{query}"), &app.token_compliance).await;
        assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    }
    let response = app.get("/v1/events?resource=messages&resource=messages&foo=1&foo=2", &app.token_compliance).await;
    assert_eq!(response.status(), StatusCode::OK);
}
