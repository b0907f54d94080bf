//! `GET /v1/adminAudit/events` and `GET /v1/adminAudit/eventCategories`.

use std::collections::HashSet;

use auditrail_server::{PublicUrl, ServerConfig};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::helpers::*;

const T0: &str = "2024-03-01T12:00:00.000Z";
const FROM: &str = "2024-01-01T00:00:00.000Z";
const TO: &str = "2024-12-31T00:00:00.000Z";

/// Ingests `n` admin events one millisecond apart from `T0`; returns their ids in order.
async fn seed(app: &TestApp, n: usize) -> Vec<String> {
    let events: Vec<Value> = (0..n).map(|i| admin_event(&at(T0, i as i64), "LOGINS", "actor")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    events.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    Url::parse(url).expect("valid URL").query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

/// Replaces (or adds) one query parameter of an absolute URL.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain([(name.to_owned(), value.to_owned())])
        .collect();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    parsed.set_query(Some(&query.join("&")));
    parsed.to_string()
}

#[tokio::test]
async fn each_missing_required_parameter_is_400_naming_it() {
    let app = spawn_app().await;
    let org = enc(&app.org.to_string());
    let cases = [
        ("orgId", format!("{ADMIN_EVENTS}?from={}&to={}", enc(FROM), enc(TO))),
        ("from", format!("{ADMIN_EVENTS}?orgId={org}&to={}", enc(TO))),
        ("to", format!("{ADMIN_EVENTS}?orgId={org}&from={}", enc(FROM))),
        ("orgId", format!("{ADMIN_EVENTS}?orgId=&from={}&to={}", enc(FROM), enc(TO))),
    ];
    for (name, path) in cases {
        let body = assert_webex_error(app.get(&path, &app.token_all).await, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains(name), "{path}: {body}");
    }
    let body = assert_webex_error(app.get(ADMIN_EVENTS, &app.token_all).await, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("orgId"), "{body}");
}

#[tokio::test]
async fn org_id_is_accepted_in_every_documented_form() {
    let app = spawn_app().await;
    let expected = seed(&app, 3).await;
    let uri = app.org.uri();
    let uuid = app.org.uuid().to_string();
    let forms = [
        app.org.to_string(),
        STANDARD.encode(&uri),
        URL_SAFE.encode(&uri),
        URL_SAFE_NO_PAD.encode(&uri),
        STANDARD_NO_PAD.encode(&uuid),
        STANDARD.encode(&uuid),
        uuid.clone(),
        uuid.to_uppercase(),
    ];
    for form in forms {
        let path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", enc(&form), enc(FROM), enc(TO));
        let body = app.get_json(&path, &app.token_all).await;
        assert_eq!(ids(&items(&body)), expected, "orgId form {form}");
    }
}

#[tokio::test]
async fn a_people_id_or_garbage_as_org_id_is_400() {
    let app = spawn_app().await;
    for bad in [people_id(), "not-an-org".to_owned(), "Y2lz".to_owned()] {
        let path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", enc(&bad), enc(FROM), enc(TO));
        let body = assert_webex_error(app.get(&path, &app.token_all).await, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains("orgId"), "{body}");
    }
}

#[tokio::test]
async fn another_org_is_403_and_leaks_nothing() {
    let app = spawn_app().await;
    seed(&app, 2).await;
    let path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", enc(&app.org.to_string()), enc(FROM), enc(TO));
    assert_webex_error(app.get(&path, &app.other_token_all).await, StatusCode::FORBIDDEN).await;
    let path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", app.org.uuid(), enc(FROM), enc(TO));
    assert_webex_error(app.get(&path, &app.other_token_all).await, StatusCode::FORBIDDEN).await;
    // The other org's own view is empty.
    let path = format!("{ADMIN_EVENTS}?orgId={}&from={}&to={}", enc(&app.other_org.to_string()), enc(FROM), enc(TO));
    assert!(items(&app.get_json(&path, &app.other_token_all).await).is_empty());
}

#[tokio::test]
async fn max_defaults_to_100_clamps_to_200_and_rejects_non_positive_integers() {
    let app = spawn_app().await;
    seed(&app, 250).await;
    assert_eq!(app.admin_items(FROM, TO, "").await.len(), 100);
    assert_eq!(app.admin_items(FROM, TO, "max=500").await.len(), 200);
    assert_eq!(app.admin_items(FROM, TO, "max=200").await.len(), 200);
    assert_eq!(app.admin_items(FROM, TO, "max=7").await.len(), 7);
    assert_eq!(app.admin_items(FROM, TO, "max=99999999999999999999999999").await.len(), 200);
    for bad in ["max=0", "max=abc", "max=-1", "max=1.5", "max=", "max=%201"] {
        let response = app.get(&app.admin_path(FROM, TO, bad), &app.token_all).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains("max"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn offset_pages_and_rejects_negatives() {
    let app = spawn_app().await;
    let all = seed(&app, 10).await;
    assert_eq!(ids(&app.admin_items(FROM, TO, "max=3&offset=4").await), all[4..7].to_vec());
    assert_eq!(ids(&app.admin_items(FROM, TO, "offset=8").await), all[8..].to_vec());
    assert!(app.admin_items(FROM, TO, "offset=10").await.is_empty());
    assert!(app.admin_items(FROM, TO, "offset=18446744073709551615").await.is_empty());
    for bad in ["offset=-1", "offset=abc", "offset=1.0"] {
        let response = app.get(&app.admin_path(FROM, TO, bad), &app.token_all).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains("offset"), "{bad}: {body}");
    }
}

#[tokio::test]
async fn from_after_to_and_bad_timestamps_are_400() {
    let app = spawn_app().await;
    let response = app.get(&app.admin_path(TO, FROM, ""), &app.token_all).await;
    assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    for (bad_from, name) in [
        ("2024-01-01", "from"),
        ("2024-01-01T00:00:00", "from"),
        ("yesterday", "from"),
        ("2024-01-01T00:00:00.1234567890Z", "from"),
        ("2024-01-01 00:00:00Z", "from"),
        ("1704067200000", "from"),
    ] {
        let response = app.get(&app.admin_path(bad_from, TO, ""), &app.token_all).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains(name), "{bad_from}: {body}");
    }
    let response = app.get(&app.admin_path(FROM, "2024-02-30T00:00:00Z", ""), &app.token_all).await;
    let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
    assert!(body["message"].as_str().unwrap().contains("to"), "{body}");
    // 0 to 9 fraction digits and either zone form are accepted.
    for from in [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.1Z",
        "2024-01-01T00:00:00.123456789Z",
        "2024-01-01T01:00:00+01:00",
    ] {
        assert_eq!(app.get(&app.admin_path(from, TO, ""), &app.token_all).await.status(), StatusCode::OK, "{from}");
    }
    // A single instant is a valid window.
    assert_eq!(app.get(&app.admin_path(T0, T0, ""), &app.token_all).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_span_over_366_days_is_400_with_the_documented_message() {
    let app = spawn_app().await;
    let from = "2023-01-01T00:00:00.000Z";
    let exactly = at(from, 366 * 86_400_000);
    assert_eq!(app.get(&app.admin_path(from, &exactly, ""), &app.token_all).await.status(), StatusCode::OK);
    let over = at(from, 366 * 86_400_000 + 1);
    let body =
        assert_webex_error(app.get(&app.admin_path(from, &over, ""), &app.token_all).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(error_text(&body).contains(ONE_YEAR_MESSAGE), "{body}");
}

#[tokio::test]
async fn event_categories_filter_in_every_form() {
    let app = spawn_app().await;
    let events = [
        admin_event(T0, "LOGINS", "a"),
        admin_event(&at(T0, 1), "USERS", "a"),
        admin_event(&at(T0, 2), "EventCategory.DEVICES", "a"),
        admin_event(&at(T0, 3), "MY_OWN", "a"),
        admin_event(&at(T0, 4), "LOGINS", "a"),
    ];
    app.ingest_ok("admin", &json!(events)).await;
    let id = |i: usize| events[i]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("eventCategories=LOGINS", vec![id(0), id(4)]),
        ("eventCategories=LOGINS%2CUSERS", vec![id(0), id(1), id(4)]),
        ("eventCategories=LOGINS,USERS", vec![id(0), id(1), id(4)]),
        ("eventCategories=LOGINS&eventCategories=USERS", vec![id(0), id(1), id(4)]),
        ("eventCategories=EventCategory.DEVICES", vec![id(2)]),
        ("eventCategories=DEVICES", vec![id(2)]),
        ("eventCategories=EventCategory.LOGINS,MY_OWN", vec![id(0), id(3), id(4)]),
        ("eventCategories=NOPE", vec![]),
        ("eventCategories=logins", vec![]),
        ("eventCategories=", vec![id(0), id(1), id(2), id(3), id(4)]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&app.admin_items(FROM, TO, query).await), expected, "{query}");
    }
}

#[tokio::test]
async fn actor_filter_matches_exactly() {
    let app = spawn_app().await;
    let ids_a = [event_id(), event_id()];
    let events = [
        json!({"id": ids_a[0], "actorId": "A", "created": T0, "data": {"eventCategory": "LOGINS"}}),
        json!({"id": event_id(), "actorId": "AB", "created": at(T0, 1), "data": {"eventCategory": "LOGINS"}}),
        json!({"id": event_id(), "actorId": "a", "created": at(T0, 2), "data": {"eventCategory": "LOGINS"}}),
        json!({"id": ids_a[1], "actorId": "A", "created": at(T0, 3), "data": {"eventCategory": "USERS"}}),
        json!({"id": event_id(), "actorId": " A", "created": at(T0, 4), "data": {"eventCategory": "LOGINS"}}),
    ];
    app.ingest_ok("admin", &json!(events)).await;
    assert_eq!(ids(&app.admin_items(FROM, TO, "actorId=A").await), ids_a.to_vec());
    assert_eq!(ids(&app.admin_items(FROM, TO, "actorId=A&eventCategories=USERS").await), vec![ids_a[1].clone()]);
    assert!(app.admin_items(FROM, TO, "actorId=nobody").await.is_empty());
    // Real actor ids are base64 and may contain '+' and '/'.
    let awkward = people_id() + "+/=";
    let e = json!({"id": event_id(), "actorId": awkward, "created": T0, "data": {"eventCategory": "LOGINS"}});
    app.ingest_ok("admin", &json!([e])).await;
    assert_eq!(ids(&app.admin_items(FROM, TO, &format!("actorId={}", enc(&awkward))).await), ids(&[e]));
}

#[tokio::test]
async fn items_are_oldest_first_with_ties_in_ingest_order() {
    let app = spawn_app().await;
    let created = ["2024-03-05T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "2024-03-03T00:00:00.000Z"];
    let mut expected: Vec<(String, usize, String)> = Vec::new();
    let mut n = 0;
    for round in 0..3 {
        let mut batch = Vec::new();
        for (i, c) in created.iter().enumerate() {
            // Different textual forms of the same instant sort together.
            let spelled = if (round + i) % 2 == 0 { (*c).to_owned() } else { c.replace(".000Z", "+00:00") };
            let e = admin_event(&spelled, "LOGINS", "a");
            expected.push((c.to_string(), n, e["id"].as_str().unwrap().to_owned()));
            n += 1;
            batch.push(e);
        }
        app.ingest_ok("admin", &json!(batch)).await;
    }
    expected.sort();
    let want: Vec<String> = expected.into_iter().map(|(_, _, id)| id).collect();
    let got = app.walk(&app.admin_path(FROM, TO, "max=2"), &app.token_all).await;
    assert_eq!(ids(&got), want);
    let created_seen: Vec<&str> = got.iter().map(|e| e["created"].as_str().unwrap()).collect();
    let mut sorted = created_seen.clone();
    sorted.sort();
    assert_eq!(created_seen, sorted);
}

#[tokio::test]
async fn both_bounds_are_inclusive_at_millisecond_resolution() {
    let app = spawn_app().await;
    let from = "2024-03-01T00:00:00.000Z";
    let to = "2024-03-02T00:00:00.000Z";
    let events = [
        admin_event(&at(from, -1), "LOGINS", "before"),
        admin_event(from, "LOGINS", "at-from"),
        admin_event("2024-03-01T12:00:00.000Z", "LOGINS", "inside"),
        admin_event(to, "LOGINS", "at-to"),
        admin_event(&at(to, 1), "LOGINS", "after"),
    ];
    app.ingest_ok("admin", &json!(events)).await;
    let got = app.admin_items(from, to, "").await;
    let actors: Vec<&str> = got.iter().map(|e| e["actorId"].as_str().unwrap()).collect();
    assert_eq!(actors, ["at-from", "inside", "at-to"]);
    // The same bounds spelled with offsets and sub-millisecond digits.
    let got = app.admin_items("2024-03-01T01:00:00.000999+01:00", "2024-03-01T19:00:00.0001-05:00", "").await;
    let actors: Vec<&str> = got.iter().map(|e| e["actorId"].as_str().unwrap()).collect();
    assert_eq!(actors, ["at-from", "inside", "at-to"]);
}

#[tokio::test]
async fn link_only_when_another_page_exists() {
    let app = spawn_app().await;
    seed(&app, 5).await;
    let exactly_full = app.get(&app.admin_path(FROM, TO, "max=5"), &app.token_all).await;
    assert_eq!(exactly_full.status(), StatusCode::OK);
    assert_eq!(next_link(exactly_full.headers()), None, "a page that ends the data has no Link");
    let more = app.get(&app.admin_path(FROM, TO, "max=100"), &app.token_all).await;
    assert_eq!(next_link(more.headers()), None);
    let first = app.get(&app.admin_path(FROM, TO, "max=4"), &app.token_all).await;
    let link = next_link(first.headers()).expect("a second page exists");
    let last = app.get_absolute(&link, &app.token_all).await;
    assert_eq!(next_link(last.headers()), None);
    let body: Value = last.json().await.unwrap();
    assert_eq!(items(&body).len(), 1);
    let empty = app.get(&app.admin_path("2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z", "max=1"), &app.token_all).await;
    assert_eq!(next_link(empty.headers()), None);
}

#[tokio::test]
async fn link_is_absolute_and_repeats_every_normalised_filter() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..6).map(|i| admin_event(&at(T0, i), "LOGINS", "act+or/1")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    // Non-canonical spellings in: padded URL-safe org id, offsets, EventCategory. prefix, repeats.
    let org_in = URL_SAFE.encode(app.org.uri());
    let path = format!(
        "{ADMIN_EVENTS}?orgId={}&from={}&to={}&actorId={}&eventCategories=EventCategory.LOGINS&eventCategories=USERS&max=2&request_parameters=x",
        enc(&org_in),
        enc("2024-01-01T01:00:00+01:00"),
        enc("2024-12-30T19:00:00.5-05:00"),
        enc("act+or/1"),
    );
    let response = app.get(&path, &app.token_all).await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = next_link(response.headers()).expect("next link");
    assert!(link.starts_with(&format!("{}/v1/adminAudit/events?", app.base)), "{link}");
    let pairs = query_pairs(&link);
    assert_eq!(param(&pairs, "orgId"), [app.org.to_string().as_str()], "canonical org id: {link}");
    assert_eq!(param(&pairs, "from"), ["2024-01-01T00:00:00.000Z"], "{link}");
    assert_eq!(param(&pairs, "to"), ["2024-12-31T00:00:00.500Z"], "{link}");
    assert_eq!(param(&pairs, "actorId"), ["act+or/1"], "{link}");
    let categories: Vec<String> =
        param(&pairs, "eventCategories").iter().flat_map(|v| v.split(',')).map(str::to_owned).collect();
    let categories: HashSet<String> = categories.into_iter().collect();
    assert_eq!(categories, HashSet::from(["LOGINS".to_owned(), "USERS".to_owned()]), "{link}");
    assert_eq!(param(&pairs, "max"), ["2"], "{link}");
    assert_eq!(param(&pairs, "offset"), ["2"], "{link}");
    assert_eq!(param(&pairs, "cursor").len(), 1, "{link}");

    // The second link advances the offset.
    let second = app.get_absolute(&link, &app.token_all).await;
    let link2 = next_link(second.headers()).expect("third page");
    assert_eq!(param(&query_pairs(&link2), "offset"), ["4"], "{link2}");

    let all = app.walk(&path, &app.token_all).await;
    assert_eq!(ids(&all), ids(&events));
}

#[tokio::test]
async fn webexpythonsdk_style_following_works() {
    // webexpythonsdk overwrites max with the original value and re-appends missing params raw.
    let app = spawn_app().await;
    let expected = seed(&app, 9).await;
    let first = app.get(&app.admin_path(FROM, TO, "max=4"), &app.token_all).await;
    let mut seen = ids(&items(&first.json::<Value>().await.unwrap()));
    let first = app.get(&app.admin_path(FROM, TO, "max=4"), &app.token_all).await;
    let mut next = next_link(first.headers());
    while let Some(link) = next {
        let link = with_param(&link, "max", "4");
        let response = app.get_absolute(&link, &app.token_all).await;
        assert_eq!(response.status(), StatusCode::OK);
        next = next_link(response.headers());
        seen.extend(ids(&items(&response.json::<Value>().await.unwrap())));
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn walking_more_than_ten_pages_sees_every_event_once() {
    let app = spawn_app().await;
    let expected = seed(&app, 57).await;
    let got = app.walk(&app.admin_path(FROM, TO, "max=5"), &app.token_all).await;
    assert_eq!(ids(&got), expected);
}

#[tokio::test]
async fn a_deep_walk_while_ingesting_is_pinned_to_its_first_page() {
    let app = spawn_app().await;
    let from = "2024-03-01T00:00:00.000Z";
    let to = "2024-03-31T00:00:00.000Z";
    let tie = "2024-03-10T00:00:00.000Z";
    // 20 events, then 23 sharing one `created` (spanning several page boundaries), then 20 more.
    let mut initial = Vec::new();
    for i in 0..20 {
        initial.push(admin_event(&at("2024-03-02T00:00:00.000Z", i * 60_000), "LOGINS", "early"));
    }
    for _ in 0..23 {
        initial.push(admin_event(tie, "USERS", "tie"));
    }
    for i in 0..20 {
        initial.push(admin_event(&at("2024-03-20T00:00:00.000Z", i * 60_000), "LOGINS", "late"));
    }
    // Ingest in shuffled batches so that seq order differs from created order.
    let (a, b) = initial.split_at(30);
    app.ingest_ok("admin", &json!(b)).await;
    app.ingest_ok("admin", &json!(a)).await;
    let mut expected = app.walk(&app.admin_path(from, to, "max=200"), &app.token_all).await;
    assert_eq!(expected.len(), initial.len());
    let expected_ids = ids(&expected);

    let mut seen: Vec<Value> = Vec::new();
    let mut added: Vec<Value> = Vec::new();
    let mut url = app.url(&app.admin_path(from, to, "max=7"));
    let mut page = 0;
    loop {
        let response = app.get_absolute(&url, &app.token_all).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = next_link(response.headers());
        let body: Value = response.json().await.unwrap();
        seen.extend(items(&body));
        // Between pages: backfill before the position, events at the tie instant, events after it,
        // events outside the range, and a duplicate of an already-seen event.
        let batch = vec![
            admin_event(&at(from, page), "LOGINS", "backfill-at-from"),
            admin_event(&at("2024-03-05T00:00:00.000Z", page), "LOGINS", "backfill"),
            admin_event(tie, "USERS", "tie-added"),
            admin_event(tie, "USERS", "tie-added"),
            admin_event(&at("2024-03-25T00:00:00.000Z", page), "LOGINS", "ahead"),
            admin_event(to, "LOGINS", "at-to"),
            admin_event(&at(to, 1 + page), "LOGINS", "outside"),
        ];
        app.ingest_ok("admin", &json!(batch)).await;
        app.ingest_ok("admin", &json!([expected[page as usize % expected.len()].clone()])).await;
        added.extend(batch.into_iter().filter(|e| e["actorId"] != "outside"));
        page += 1;
        assert!(page < 100, "the walk does not terminate");
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert!(page >= 9, "the walk spans many pages ({page})");
    let seen_ids = ids(&seen);
    let unique: HashSet<&String> = seen_ids.iter().collect();
    assert_eq!(unique.len(), seen_ids.len(), "a walk never repeats an item");
    assert_eq!(seen_ids, expected_ids, "the walk is exactly the set ingested before its first page, in order");

    // A fresh walk sees everything.
    let fresh = app.walk(&app.admin_path(from, to, "max=9"), &app.token_all).await;
    expected.extend(added);
    let fresh_ids: HashSet<String> = ids(&fresh).into_iter().collect();
    let want: HashSet<String> = ids(&expected).into_iter().collect();
    assert_eq!(fresh.len(), expected.len(), "fresh walk has no duplicates");
    assert_eq!(fresh_ids, want);
}

#[tokio::test]
async fn a_cursor_for_another_query_or_a_forged_cursor_is_400() {
    let app = spawn_app().await;
    let events: Vec<Value> = (0..6).map(|i| admin_event(&at(T0, i), "LOGINS", "a")).collect();
    app.ingest_ok("admin", &json!(events)).await;
    let first = app.get(&app.admin_path(FROM, TO, "max=2&actorId=a&eventCategories=LOGINS"), &app.token_all).await;
    let link = next_link(first.headers()).expect("link");
    let cursor = param(&query_pairs(&link), "cursor")[0].to_owned();

    let changed = [
        with_param(&link, "from", "2024-01-01T00:00:00.001Z"),
        with_param(&link, "to", "2024-12-30T00:00:00.000Z"),
        with_param(&link, "actorId", "b"),
        with_param(&link, "eventCategories", "USERS"),
        with_param(&with_param(&link, "actorId", ""), "eventCategories", ""),
    ];
    for url in changed {
        let body = assert_webex_error(app.get_absolute(&url, &app.token_all).await, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains("cursor"), "{url}: {body}");
    }
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let forged = [
        String::from_utf8(tampered).unwrap(),
        format!("{cursor}A"),
        cursor[..cursor.len() - 1].to_owned(),
        "garbage".to_owned(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
    ];
    for c in forged {
        let url = with_param(&link, "cursor", &c);
        assert_webex_error(app.get_absolute(&url, &app.token_all).await, StatusCode::BAD_REQUEST).await;
    }
    // The cursor wins over offset.
    let response = app.get_absolute(&with_param(&link, "offset", "0"), &app.token_all).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&items(&body)), ids(&events[2..4]), "cursor wins over offset");
    // `max` is not bound to the cursor (clients resend it unclamped).
    let response = app.get_absolute(&with_param(&link, "max", "3"), &app.token_all).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&items(&body)), ids(&events[2..5]));
}

#[tokio::test]
async fn another_orgs_cursor_never_returns_data() {
    let app = spawn_app().await;
    seed(&app, 6).await;
    let other_events: Vec<Value> = (0..6).map(|i| admin_event(&at(T0, i), "LOGINS", "other")).collect();
    let r = app.ingest("admin", &app.other_token_all, &json!(other_events)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let first = app.get(&app.admin_path(FROM, TO, "max=2"), &app.token_all).await;
    let link = next_link(first.headers()).expect("link");

    // Org B's token following org A's link verbatim.
    let response = app.get_absolute(&link, &app.other_token_all).await;
    let status = response.status();
    assert!(status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST, "got {status}");
    assert_webex_error(response, status).await;
    // Org B's token with its own orgId but org A's cursor.
    let swapped = with_param(&link, "orgId", &app.other_org.to_string());
    let response = app.get_absolute(&swapped, &app.other_token_all).await;
    let status = response.status();
    assert!(status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST, "got {status}");
    assert_webex_error(response, status).await;
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    let expected = seed(&app, 3).await;
    let got = app.admin_items(FROM, TO, "request_parameters=x&foo=bar&foo=baz&Max=0&ORGID=x").await;
    assert_eq!(ids(&got), expected);
}

#[tokio::test]
async fn a_known_parameter_given_twice_with_different_values_is_400() {
    let app = spawn_app().await;
    let expected = seed(&app, 3).await;
    let org = enc(&app.org.to_string());
    let base = format!("{ADMIN_EVENTS}?orgId={org}&from={}&to={}", enc(FROM), enc(TO));
    for (dup, name) in [
        (format!("&from={}", enc("2024-01-02T00:00:00Z")), "from"),
        (format!("&to={}", enc("2024-12-30T00:00:00Z")), "to"),
        ("&max=1&max=2".to_owned(), "max"),
        ("&offset=0&offset=1".to_owned(), "offset"),
        ("&actorId=a&actorId=b".to_owned(), "actorId"),
        (format!("&orgId={}", enc(&app.other_org.to_string())), "orgId"),
    ] {
        let path = format!("{base}{dup}");
        let body = assert_webex_error(app.get(&path, &app.token_all).await, StatusCode::BAD_REQUEST).await;
        assert!(body["message"].as_str().unwrap().contains(name), "{path}: {body}");
    }
    // The same value twice is fine; eventCategories may repeat.
    let path = format!("{base}&from={}&max=2&max=2&orgId={org}", enc(FROM));
    assert_eq!(ids(&items(&app.get_json(&path, &app.token_all).await)), expected[..2].to_vec());
    let path = format!("{base}&eventCategories=LOGINS&eventCategories=USERS&eventCategories=LOGINS");
    assert_eq!(ids(&items(&app.get_json(&path, &app.token_all).await)), expected);
}

#[tokio::test]
async fn event_categories_endpoint_lists_built_ins_and_this_orgs_categories() {
    let app = spawn_app().await;
    app.ingest_ok(
        "admin",
        &json!([
            admin_event(T0, "ZZ_CUSTOM", "a"),
            admin_event(T0, "EventCategory.AA_CUSTOM", "a"),
            admin_event(T0, "LOGINS", "a")
        ]),
    )
    .await;
    let r = app.ingest("admin", &app.other_token_all, &json!([admin_event(T0, "OTHER_ORGS_SECRET", "o")])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = app.get_json("/v1/adminAudit/eventCategories", &app.token_audit).await;
    let got: Vec<&str> = body["eventCategories"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut want = vec![
        "COMPLIANCE",
        "CUSTOMERS",
        "DEVICES",
        "GROUPS",
        "HYBRID_SERVICES",
        "LICENSES",
        "LOCATIONS",
        "LOGINS",
        "LOGOUT",
        "MEETINGS",
        "MESSAGING",
        "ORG_SETTINGS",
        "PARTNER",
        "ROLES",
        "SUPPORT",
        "USERS",
        "WEBEX_CALLING",
        "AA_CUSTOM",
        "ZZ_CUSTOM",
    ];
    want.sort();
    assert_eq!(got, want);

    let fresh = app.get_json("/v1/adminAudit/eventCategories", &app.other_token_all).await;
    let got: Vec<&str> = fresh["eventCategories"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(got.contains(&"OTHER_ORGS_SECRET"));
    assert!(!got.contains(&"ZZ_CUSTOM"));
    assert_eq!(got.len(), 18);

    let response = app.get("/v1/adminAudit/eventCategories", &app.token_compliance).await;
    assert_webex_error(response, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn reading_requires_the_audit_scope() {
    let app = spawn_app().await;
    seed(&app, 1).await;
    for token in [&app.token_compliance, &app.token_ingest] {
        let response = app.get(&app.admin_path(FROM, TO, ""), token).await;
        assert_webex_error(response, StatusCode::FORBIDDEN).await;
    }
    assert_eq!(app.admin_items(FROM, TO, "").await.len(), 1);
    let response = app.get(&app.admin_path(FROM, TO, ""), &app.token_audit).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn served_items_always_carry_the_four_data_strings() {
    let app = spawn_app().await;
    let minimal = json!({"actorId": "a", "created": T0, "data": {"eventCategory": "LOGINS"}});
    let with_error = json!({"actorId": "a", "created": at(T0, 1), "data": {
        "eventCategory": "WEBEX_CALLING", "actionText": "Provisioning failed", "errorCode": "WXC-25008",
        "errorMessage": "Missing Mandatory field name: firstName"}});
    app.ingest_ok("admin", &json!([minimal, with_error])).await;
    let got = app.admin_items(FROM, TO, "").await;
    for e in &got {
        for key in ["eventCategory", "actionText", "eventDescription", "actorEmail"] {
            assert!(e["data"][key].is_string(), "data.{key} missing: {e}");
        }
    }
    assert_eq!(got[1]["data"]["errorCode"], "WXC-25008");
    assert_eq!(got[1]["data"]["errorMessage"], "Missing Mandatory field name: firstName");
}

#[tokio::test]
async fn another_replica_on_the_same_store_accepts_the_cursor() {
    let app = spawn_app().await;
    let expected = seed(&app, 7).await;
    let replica = app.spawn_replica(ServerConfig::default()).await;
    let first = app.get(&app.admin_path(FROM, TO, "max=3"), &app.token_all).await;
    let link = next_link(first.headers()).expect("link");
    let mut got = ids(&items(&first.json::<Value>().await.unwrap()));
    let on_replica = link.replacen(&app.base, &replica, 1);
    assert_ne!(on_replica, link);
    let all = app.walk(&on_replica, &app.token_all).await;
    got.extend(ids(&all));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn links_use_the_public_url_and_forwarded_headers_only_when_trusted() {
    let public = PublicUrl::parse("https://audit.example.com/api/").unwrap();
    let app = spawn_app_with(ServerConfig { public_url: Some(public), ..ServerConfig::default() }).await;
    seed(&app, 3).await;
    let response = app.get(&app.admin_path(FROM, TO, "max=1"), &app.token_all).await;
    let link = next_link(response.headers()).expect("link");
    assert!(link.starts_with("https://audit.example.com/api/v1/adminAudit/events?"), "{link}");

    // Without --trust-proxy, X-Forwarded-* are ignored; the Host header is used.
    let app = spawn_app().await;
    seed(&app, 3).await;
    let request = |trusted_base: &str| {
        app.client
            .get(format!("{trusted_base}{}", app.admin_path(FROM, TO, "max=1")))
            .bearer_auth(&app.token_all)
            .header("x-forwarded-host", "evil.example.com")
            .header("x-forwarded-proto", "https")
            .send()
    };
    let response = request(&app.base).await.unwrap();
    let link = next_link(response.headers()).expect("link");
    assert!(link.starts_with(&format!("{}/v1/adminAudit/events?", app.base)), "{link}");

    let replica = app.spawn_replica(ServerConfig { trust_proxy: true, ..ServerConfig::default() }).await;
    let response = request(&replica).await.unwrap();
    let link = next_link(response.headers()).expect("link");
    assert!(link.starts_with("https://evil.example.com/v1/adminAudit/events?"), "{link}");
}
