//! `POST /auditrail/v1/ingest/{kind}`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const T0: &str = "2024-03-01T12:00:00.000Z";
const FROM: &str = "2024-01-01T00:00:00.000Z";
const TO: &str = "2024-12-31T00:00:00.000Z";

async fn stored_admin(app: &TestApp) -> Vec<Value> {
    app.walk(&app.admin_path(FROM, TO, "max=200"), &app.token_all).await
}

fn seqs(receipt: &Value) -> Vec<u64> {
    receipt["items"].as_array().expect("items").iter().map(|i| i["seq"].as_u64().expect("seq")).collect()
}

#[tokio::test]
async fn json_array_items_object_and_ndjson_are_all_accepted() {
    let app = spawn_app().await;
    let a = [admin_event(T0, "LOGINS", "a1"), admin_event(&at(T0, 1), "LOGINS", "a2")];
    let b = [admin_event(&at(T0, 2), "USERS", "b1"), admin_event(&at(T0, 3), "USERS", "b2")];
    let c = [admin_event(&at(T0, 4), "DEVICES", "c1"), admin_event(&at(T0, 5), "DEVICES", "c2")];

    let r = app.ingest_ok("admin", &json!(a)).await;
    assert_eq!(r["accepted"], 2);
    let r = app.ingest_ok("admin", &json!({ "items": b })).await;
    assert_eq!(r["accepted"], 2);
    let ndjson = format!("{}\n{}\n", c[0], c[1]);
    let response = app.ingest_raw("admin", &app.token_all, Some("application/x-ndjson"), ndjson.into_bytes()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let r: Value = response.json().await.unwrap();
    assert_eq!(r["accepted"], 2);

    let stored = stored_admin(&app).await;
    let expected: Vec<Value> = a.iter().chain(&b).chain(&c).map(|e| e["id"].clone()).collect();
    let got: Vec<Value> = stored.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn json_with_charset_parameter_is_accepted() {
    let app = spawn_app().await;
    let body = json!([admin_event(T0, "LOGINS", "a")]).to_string().into_bytes();
    let response = app.ingest_raw("admin", &app.token_all, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_content_types_are_415() {
    let app = spawn_app().await;
    let body = json!([admin_event(T0, "LOGINS", "a")]).to_string();
    for content_type in [Some("text/plain"), Some("application/xml"), Some("application/x-www-form-urlencoded"), None] {
        let response = app.ingest_raw("admin", &app.token_all, content_type, body.clone().into_bytes()).await;
        assert_webex_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    assert!(stored_admin(&app).await.is_empty());
}

#[tokio::test]
async fn receipt_is_in_request_order_and_seqs_are_gap_free() {
    let app = spawn_app().await;
    // Deliberately not in `created` order: the receipt follows the request, not time.
    let batch1: Vec<Value> = (0..5).map(|i| admin_event(&at(T0, 1000 - i * 10), "LOGINS", "a")).collect();
    let r1 = app.ingest_ok("admin", &json!(batch1)).await;
    assert_eq!(r1["accepted"], 5);
    assert_eq!(r1["duplicates"], 0);
    let receipt_ids: Vec<&str> = r1["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    let sent_ids: Vec<&str> = batch1.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(receipt_ids, sent_ids);
    assert!(r1["items"].as_array().unwrap().iter().all(|i| i["duplicate"] == false));
    assert_eq!(seqs(&r1), vec![1, 2, 3, 4, 5]);

    let batch2: Vec<Value> = (0..3).map(|i| compliance_event(&at(T0, i), "messages", "created", "x")).collect();
    let r2 = app.ingest_ok("compliance", &json!(batch2)).await;
    assert_eq!(seqs(&r2), vec![6, 7, 8], "seq is per org, across kinds, gap-free");

    // Another org's sequence is its own.
    let other = app.ingest("admin", &app.other_token_all, &json!([admin_event(T0, "LOGINS", "o")])).await;
    let other: Value = other.json().await.unwrap();
    assert_eq!(seqs(&other), vec![1]);
}

#[tokio::test]
async fn same_id_and_content_again_is_a_duplicate_reporting_the_first_seq() {
    let app = spawn_app().await;
    let a = admin_event(T0, "LOGINS", "a");
    let b = admin_event(&at(T0, 1), "LOGINS", "b");
    let r = app.ingest_ok("admin", &json!([a, b])).await;
    assert_eq!(seqs(&r), vec![1, 2]);

    // Same content, different spelling: key order changed, created with an offset and more digits.
    let mut b_again = json!({
        "data": b["data"].clone(),
        "created": "2024-03-01T13:00:00.001999+01:00",
        "actorOrgId": b["actorOrgId"].clone(),
        "actorId": b["actorId"].clone(),
        "id": b["id"].clone(),
    });
    b_again["data"]["eventCategory"] = json!("EventCategory.LOGINS");
    let c = admin_event(&at(T0, 2), "LOGINS", "c");
    let r = app.ingest_ok("admin", &json!([b_again, c])).await;
    assert_eq!(r["accepted"], 1, "{r}");
    assert_eq!(r["duplicates"], 1, "{r}");
    assert_eq!(r["items"][0]["id"], b["id"]);
    assert_eq!(r["items"][0]["duplicate"], true);
    assert_eq!(r["items"][0]["seq"], 2, "a duplicate reports the seq it was first stored with");
    assert_eq!(r["items"][1]["duplicate"], false);
    assert_eq!(r["items"][1]["seq"], 3);

    assert_eq!(stored_admin(&app).await.len(), 3);
}

#[tokio::test]
async fn retry_without_created_is_a_duplicate() {
    // `created` filled in by the server is ignored when comparing.
    let app = spawn_app().await;
    let item = json!({"id": event_id(), "eventDescription": "d", "statusOfAction": "SUCCESS"});
    let r1 = app.ingest_ok("connect", &json!([item])).await;
    let r2 = app.ingest_ok("connect", &json!([item])).await;
    assert_eq!(r2["duplicates"], 1, "{r2}");
    assert_eq!(r2["items"][0]["seq"], r1["items"][0]["seq"]);
}

#[tokio::test]
async fn same_id_with_different_content_is_409_naming_the_index_and_stores_nothing() {
    let app = spawn_app().await;
    let x = admin_event(T0, "LOGINS", "x");
    app.ingest_ok("admin", &json!([x])).await;

    let mut x_changed = x.clone();
    x_changed["data"]["actionText"] = json!("something else");
    let batch = json!([admin_event(&at(T0, 1), "LOGINS", "n1"), admin_event(&at(T0, 2), "LOGINS", "n2"), x_changed]);
    let body = assert_webex_error(app.ingest("admin", &app.token_all, &batch).await, StatusCode::CONFLICT).await;
    assert!(error_text(&body).contains("items[2]"), "409 must name the index: {body}");

    let stored = stored_admin(&app).await;
    assert_eq!(ids(&stored), vec![x["id"].as_str().unwrap().to_owned()], "the batch is atomic");
    assert_eq!(stored[0]["data"]["actionText"], x["data"]["actionText"]);

    // No seq was consumed by the refused batch.
    let r = app.ingest_ok("admin", &json!([admin_event(&at(T0, 3), "LOGINS", "n3")])).await;
    assert_eq!(seqs(&r), vec![2]);
}

#[tokio::test]
async fn different_created_for_the_same_id_is_a_conflict() {
    let app = spawn_app().await;
    let x = admin_event(T0, "LOGINS", "x");
    app.ingest_ok("admin", &json!([x])).await;
    let mut moved = x.clone();
    moved["created"] = json!(at(T0, 1));
    let body =
        assert_webex_error(app.ingest("admin", &app.token_all, &json!([moved])).await, StatusCode::CONFLICT).await;
    assert!(error_text(&body).contains("items[0]"), "{body}");
}

#[tokio::test]
async fn same_id_twice_in_one_batch() {
    let app = spawn_app().await;
    let x = admin_event(T0, "LOGINS", "x");
    let r = app.ingest_ok("admin", &json!([x, x])).await;
    assert_eq!(r["items"].as_array().unwrap().len(), 2);
    assert_eq!(r["items"][0]["seq"], r["items"][1]["seq"], "identical repeats are stored once: {r}");
    assert_eq!(r["accepted"], 1, "{r}");
    assert_eq!(stored_admin(&app).await.len(), 1);

    let y = admin_event(&at(T0, 1), "LOGINS", "y");
    let mut y_changed = y.clone();
    y_changed["actorId"] = json!("someone else");
    let batch = json!([y, admin_event(&at(T0, 2), "LOGINS", "z"), y_changed]);
    let body = assert_webex_error(app.ingest("admin", &app.token_all, &batch).await, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&body).contains("items[2]"), "{body}");
    assert_eq!(stored_admin(&app).await.len(), 1, "nothing of the refused batch is stored");
}

#[tokio::test]
async fn missing_required_fields_and_wrong_types_are_400_naming_item_and_field() {
    let app = spawn_app().await;
    let good_admin = || admin_event(T0, "LOGINS", "ok");
    let good_compliance = || compliance_event(T0, "messages", "created", "ok");
    let good_connect = || connect_event(T0, "LOGINS", "ok@example.com", &[]);
    let strip = |mut v: Value, path: &[&str]| {
        let (last, parents) = path.split_last().unwrap();
        let mut target = &mut v;
        for p in parents {
            target = &mut target[*p];
        }
        target.as_object_mut().unwrap().remove(*last);
        v
    };
    let set = |mut v: Value, path: &[&str], value: Value| {
        let (last, parents) = path.split_last().unwrap();
        let mut target = &mut v;
        for p in parents {
            target = &mut target[*p];
        }
        target[*last] = value;
        v
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("admin", strip(good_admin(), &["actorId"]), "actorId"),
        ("admin", strip(good_admin(), &["data", "eventCategory"]), "eventCategory"),
        ("admin", strip(good_admin(), &["data"]), "data"),
        ("admin", set(good_admin(), &["actorId"], json!(5)), "actorId"),
        ("admin", set(good_admin(), &["data"], json!("LOGINS")), "data"),
        ("admin", set(good_admin(), &["data", "eventCategory"], json!(["LOGINS"])), "eventCategory"),
        ("admin", set(good_admin(), &["data", "actionText"], json!(1)), "actionText"),
        ("admin", set(good_admin(), &["created"], json!(1_700_000_000)), "created"),
        ("admin", set(good_admin(), &["created"], json!("2024-03-01")), "created"),
        ("admin", set(good_admin(), &["created"], json!("2024-03-01T12:00:00")), "created"),
        ("admin", set(good_admin(), &["id"], json!(7)), "id"),
        ("compliance", strip(good_compliance(), &["resource"]), "resource"),
        ("compliance", strip(good_compliance(), &["type"]), "type"),
        ("compliance", strip(good_compliance(), &["actorId"]), "actorId"),
        ("compliance", set(good_compliance(), &["resource"], json!(true)), "resource"),
        ("compliance", set(good_compliance(), &["actorId"], json!({"id": "x"})), "actorId"),
        ("connect", strip(good_connect(), &["eventDescription"]), "eventDescription"),
        ("connect", strip(good_connect(), &["statusOfAction"]), "statusOfAction"),
        ("connect", set(good_connect(), &["statusOfAction"], json!(1)), "statusOfAction"),
        ("connect", set(good_connect(), &["adminRoles"], json!("Owner")), "adminRoles"),
    ];
    for (kind, bad, field) in cases {
        let good = match kind {
            "admin" => good_admin(),
            "compliance" => good_compliance(),
            _ => good_connect(),
        };
        let batch = json!([good, bad]);
        let body = assert_webex_error(app.ingest(kind, &app.token_all, &batch).await, StatusCode::BAD_REQUEST).await;
        let text = error_text(&body);
        assert!(text.contains("items[1]"), "{kind} {bad}: must name items[1]: {body}");
        assert!(text.contains(field), "{kind} {bad}: must name field {field}: {body}");
        assert!(!text.contains("items[0]"), "{kind}: the good item is not an offender: {body}");
    }
    for kind in ["admin", "compliance", "connect"] {
        let count = match kind {
            "admin" => stored_admin(&app).await.len(),
            "compliance" => {
                items(&app.get_json("/v1/events?from=2000-01-01T00:00:00Z&max=1000", &app.token_all).await).len()
            }
            _ => {
                let r =
                    app.connect_ok(&json!({"range": "custom", "from": FROM, "to": TO, "offset": 0, "max": 100})).await;
                r["totalRecords"].as_u64().unwrap() as usize
            }
        };
        assert_eq!(count, 0, "{kind}: nothing of a refused batch is stored");
    }
}

#[tokio::test]
async fn non_object_items_and_malformed_bodies_are_400() {
    let app = spawn_app().await;
    for body in ["[1, 2]", "[\"x\"]", "{\"items\": 5}", "{\"nope\": []}", "[{", "", "42", "null"] {
        let response = app.ingest_raw("admin", &app.token_all, Some("application/json"), body.into()).await;
        assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    }
    assert!(stored_admin(&app).await.is_empty());
}

#[tokio::test]
async fn an_item_over_64_kib_is_400_naming_its_index() {
    let app = spawn_app().await;
    let mut big = admin_event(&at(T0, 2), "LOGINS", "big");
    big["data"]["blob"] = json!("x".repeat(65 * 1024));
    let batch = json!([admin_event(T0, "LOGINS", "a"), admin_event(&at(T0, 1), "LOGINS", "b"), big]);
    let body = assert_webex_error(app.ingest("admin", &app.token_all, &batch).await, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&body).contains("items[2]"), "{body}");
    assert!(stored_admin(&app).await.is_empty());

    // Just under the limit is fine.
    let mut fits = admin_event(T0, "LOGINS", "fits");
    fits["data"]["blob"] = json!("x".repeat(60 * 1024));
    app.ingest_ok("admin", &json!([fits])).await;
}

#[tokio::test]
async fn ten_thousand_items_pass_and_more_are_413() {
    let app = spawn_app().await;
    let item = |i: usize| json!({"id": format!("e{i}"), "eventDescription": "d", "statusOfAction": "S", "created": T0});
    let too_many: Vec<Value> = (0..10_001).map(item).collect();
    let response = app.ingest("connect", &app.token_all, &json!(too_many)).await;
    assert_webex_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;

    let exactly: Vec<Value> = (0..10_000).map(item).collect();
    let r = app.ingest_ok("connect", &json!(exactly)).await;
    assert_eq!(r["accepted"], 10_000);
    let last = r["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["seq"], 10_000, "the refused batch consumed no seqs");
}

#[tokio::test]
async fn a_body_over_16_mib_is_413() {
    let app = spawn_app().await;
    // Valid JSON (an array with whitespace padding) so that only the size is wrong.
    let mut body = Vec::with_capacity(16 * 1024 * 1024 + 64);
    body.extend_from_slice(json!([admin_event(T0, "LOGINS", "a")]).to_string().as_bytes());
    body.pop(); // ']'
    body.resize(16 * 1024 * 1024 + 16, b' ');
    body.push(b']');
    let response = app.ingest_raw("admin", &app.token_all, Some("application/json"), body).await;
    assert_webex_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(stored_admin(&app).await.is_empty());
}

#[tokio::test]
async fn ndjson_with_one_bad_line_is_400_and_stores_nothing() {
    let app = spawn_app().await;
    let lines = [
        admin_event(T0, "LOGINS", "a").to_string(),
        "{\"actorId\": \"b\", \"data\": {".to_owned(),
        admin_event(&at(T0, 1), "LOGINS", "c").to_string(),
    ];
    let body = lines.join("\n");
    let response = app.ingest_raw("admin", &app.token_all, Some("application/x-ndjson"), body.into_bytes()).await;
    let err = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&err).contains("items[1]"), "{err}");

    // A line that is valid JSON but an invalid event, with CRLF line endings and a blank line.
    let bad = json!({"actorId": "b", "data": {}});
    let body = format!("{}\r\n\r\n{}\r\n", admin_event(T0, "LOGINS", "a"), bad);
    let response = app.ingest_raw("admin", &app.token_all, Some("application/x-ndjson"), body.into_bytes()).await;
    let err = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&err).contains("eventCategory"), "{err}");
    assert!(stored_admin(&app).await.is_empty());
}

#[tokio::test]
async fn compliance_item_naming_another_org_is_403_and_own_org_is_canonicalised() {
    let app = spawn_app().await;
    let mut foreign = compliance_event(T0, "messages", "created", "a");
    foreign["orgId"] = json!(app.other_org.to_string());
    let batch = json!([compliance_event(T0, "messages", "created", "ok"), foreign]);
    assert_webex_error(app.ingest("compliance", &app.token_all, &batch).await, StatusCode::FORBIDDEN).await;
    let none = app.get_json("/v1/events?from=2000-01-01T00:00:00Z", &app.token_all).await;
    assert!(items(&none).is_empty(), "nothing of the refused batch is stored");

    let mut own = compliance_event(T0, "messages", "created", "a");
    own["orgId"] = json!(app.org.uuid().to_string().to_uppercase());
    app.ingest_ok("compliance", &json!([own])).await;
    let stored = app.get_json("/v1/events?from=2000-01-01T00:00:00Z", &app.token_all).await;
    assert_eq!(items(&stored)[0]["orgId"], app.org.to_string());

    // Without orgId the canonical one is filled in.
    app.ingest_ok("compliance", &json!([compliance_event(&at(T0, 1), "rooms", "updated", "b")])).await;
    let stored = app.get_json("/v1/events?from=2000-01-01T00:00:00Z", &app.token_all).await;
    assert_eq!(items(&stored)[1]["orgId"], app.org.to_string());
}

#[tokio::test]
async fn admin_partner_org_ids_are_kept_verbatim() {
    let app = spawn_app().await;
    let mut e = admin_event(T0, "PARTNER", "p");
    e["actorOrgId"] = json!(app.other_org.to_string());
    e["data"]["targetOrgId"] = json!("not-even-an-org-id");
    app.ingest_ok("admin", &json!([e])).await;
    let stored = stored_admin(&app).await;
    assert_eq!(stored[0]["actorOrgId"], app.other_org.to_string());
    assert_eq!(stored[0]["data"]["targetOrgId"], "not-even-an-org-id");
}

#[tokio::test]
async fn events_are_normalised_to_their_served_form() {
    let app = spawn_app().await;
    let id = event_id();
    let item = json!({
        "id": id,
        "actorId": "actor-1",
        "actorOrgId": "ORG",
        "created": "2024-03-01T13:00:00.123999999+01:00",
        "data": {
            "eventCategory": "EventCategory.LOGINS",
            "custom": {"nested": [1, "two", {"three": null}], "float": 1.5},
            "targetName": "unchanged",
        },
        "unknownTopLevel": {"kept": true},
    });
    let r = app.ingest_ok("admin", &json!([item])).await;
    assert_eq!(r["items"][0]["id"], id);
    let stored = stored_admin(&app).await;
    assert_eq!(stored.len(), 1);
    let e = &stored[0];
    assert_eq!(e["id"], id);
    assert_eq!(e["created"], "2024-03-01T12:00:00.123Z", "sub-millisecond digits are truncated");
    assert_eq!(e["data"]["eventCategory"], "LOGINS");
    for key in ["actionText", "eventDescription", "actorEmail"] {
        assert_eq!(e["data"][key], "", "data.{key} is always present");
    }
    assert_eq!(e["data"]["custom"], item["data"]["custom"]);
    assert_eq!(e["data"]["targetName"], "unchanged");
    assert_eq!(e["unknownTopLevel"], json!({"kept": true}));
    assert_eq!(e["actorId"], "actor-1");
    assert_eq!(e["actorOrgId"], "ORG");

    // Provided strings are kept as given.
    let full = admin_event(&at(T0, 1), "USERS", "bob");
    app.ingest_ok("admin", &json!([full])).await;
    let stored = stored_admin(&app).await;
    let served = stored.iter().find(|e| e["id"] == full["id"]).expect("stored");
    assert_eq!(served["data"], full["data"]);
}

#[tokio::test]
async fn missing_id_and_created_are_generated_and_never_deduplicated() {
    let app = spawn_app().await;
    let before = now_ms();
    let item = json!({"actorId": "a", "data": {"eventCategory": "LOGINS"}});
    let r = app.ingest_ok("admin", &json!([item, item])).await;
    let after = now_ms();
    assert_eq!(r["accepted"], 2, "items without id are never deduplicated: {r}");
    let id0 = r["items"][0]["id"].as_str().unwrap();
    let id1 = r["items"][1]["id"].as_str().unwrap();
    assert_ne!(id0, id1);
    for id in [id0, id1] {
        assert!(!id.contains('='), "generated ids have no padding: {id}");
        let uri = decode_webex_id(id);
        let uuid = uri.strip_prefix("ciscospark://us/EVENT/").unwrap_or_else(|| panic!("generated id {uri}"));
        uuid::Uuid::parse_str(uuid).unwrap();
    }
    let stored = app.walk(&app.admin_path(&ts(before - 1000), &ts(after + 1000), ""), &app.token_all).await;
    assert_eq!(stored.len(), 2);
    for e in &stored {
        let created = e["created"].as_str().unwrap();
        let ms = auditrail_core::Timestamp::parse(created, "created").unwrap().millis();
        assert!((before..=after).contains(&ms), "created {created} is the receipt time");
        assert_eq!(created.len(), 24, "…mmmZ form: {created}");
    }
}

#[tokio::test]
async fn ingest_requires_the_ingest_scope_and_a_token() {
    let app = spawn_app().await;
    let batch = json!([admin_event(T0, "LOGINS", "a")]);
    for token in [&app.token_audit, &app.token_compliance] {
        assert_webex_error(app.ingest("admin", token, &batch).await, StatusCode::FORBIDDEN).await;
    }
    let response = app
        .client
        .post(app.url("/auditrail/v1/ingest/admin"))
        .header("content-type", "application/json")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
    let r = app.ingest("admin", &app.token_ingest, &batch).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_kind_is_404() {
    let app = spawn_app().await;
    let batch = json!([admin_event(T0, "LOGINS", "a")]);
    assert_webex_error(app.ingest("bogus", &app.token_all, &batch).await, StatusCode::NOT_FOUND).await;
    assert_webex_error(app.ingest("Admin", &app.token_all, &batch).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn ingested_events_are_isolated_per_org() {
    let app = spawn_app().await;
    app.ingest_ok("admin", &json!([admin_event(T0, "LOGINS", "mine")])).await;
    let r = app.ingest("admin", &app.other_token_all, &json!([admin_event(T0, "LOGINS", "theirs")])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mine = stored_admin(&app).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["actorId"], "mine");
}
