//! `GET /v1/admin/securityAudit/events`: Webex security audit events (sign-ins and sign-outs),
//! the same contract as admin audit with `startTime`/`endTime` and pages of up to 1000.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::helpers::*;

const T0: &str = "2024-03-01T12:00:00.000Z";
const START: &str = "2024-01-01T00:00:00.000Z";
const END: &str = "2024-12-31T00:00:00.000Z";

/// Ingests `n` sign-ins one millisecond apart from `T0`, alternating two actors; returns them.
async fn seed(app: &TestApp, n: usize) -> Vec<Value> {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let category = if i % 3 == 2 { "LOGOUT" } else { "LOGINS" };
            security_event(&at(T0, i as i64), category, if i % 2 == 0 { "jane" } else { "joe" })
        })
        .collect();
    for chunk in events.chunks(1000) {
        app.ingest_ok("security", &json!(chunk)).await;
    }
    events
}

fn param(url: &str, name: &str) -> Vec<String> {
    let parsed = Url::parse(url).expect("valid URL");
    parsed.query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect()
}

#[tokio::test]
async fn lists_oldest_first_and_serves_the_stored_form() {
    let app = spawn_app().await;
    let mut events = seed(&app, 6).await;
    // A backfilled sign-in sorts by `created`, not by arrival.
    let early = security_event("2024-02-01T00:00:00.000Z", "EventCategory.LOGINS", "ann");
    app.ingest_ok("security", &json!([early])).await;
    let page = items(&app.get_json(&app.security_path(START, END, ""), &app.token_audit).await);
    let mut expected = vec![early.clone()];
    expected.append(&mut events);
    assert_eq!(ids(&page), ids(&expected));
    assert_eq!(page[0]["data"]["eventCategory"], "LOGINS", "EventCategory.X is served as X");
    for key in ["actorName", "actorEmail", "actorIp", "actorUserAgent", "trackingId", "actionText", "actorOrgName"] {
        assert_eq!(page[1]["data"][key], expected[1]["data"][key], "{key}");
    }
    assert_eq!(page[1]["created"], at(T0, 0));
    // Bounds are inclusive to the millisecond.
    let exact = items(&app.get_json(&app.security_path(&at(T0, 1), &at(T0, 3), ""), &app.token_audit).await);
    assert_eq!(ids(&exact), ids(&expected[2..5]));
}

#[tokio::test]
async fn filters_by_actor_and_categories_in_every_form() {
    let app = spawn_app().await;
    let events = seed(&app, 12).await;
    let get = |extra: &'static str| {
        let app = &app;
        async move { items(&app.get_json(&app.security_path(START, END, extra), &app.token_audit).await) }
    };
    let jane: Vec<&Value> = events.iter().filter(|e| e["actorId"] == "jane").collect();
    assert_eq!(
        ids(&get("actorId=jane").await),
        jane.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    );
    let logouts = events.iter().filter(|e| e["data"]["eventCategory"] == "LOGOUT").count();
    assert_eq!(get("eventCategories=LOGOUT").await.len(), logouts);
    assert_eq!(get("eventCategories=EventCategory.LOGOUT").await.len(), logouts);
    assert_eq!(get("eventCategories=LOGINS,LOGOUT").await.len(), 12);
    assert_eq!(get("eventCategories=LOGINS&eventCategories=LOGOUT").await.len(), 12);
    assert!(get("eventCategories=logins").await.is_empty(), "categories match case-sensitively");
    let jane_out = get("actorId=jane&eventCategories=LOGOUT").await;
    assert!(
        !jane_out.is_empty()
            && jane_out.iter().all(|e| e["actorId"] == "jane" && e["data"]["eventCategory"] == "LOGOUT")
    );
}

#[tokio::test]
async fn pages_follow_links_with_a_cursor_and_max_up_to_1000() {
    let app = spawn_app().await;
    let events = seed(&app, 1_205).await;
    let first = app.get(&app.security_path(START, END, ""), &app.token_audit).await;
    assert_eq!(items(&first.json::<Value>().await.expect("page")).len(), 100, "default max is 100");
    let big = app.get(&app.security_path(START, END, "max=5000"), &app.token_audit).await;
    let link = next_link(big.headers()).expect("more than 1000 events");
    assert_eq!(items(&big.json::<Value>().await.expect("page")).len(), 1000, "max is clamped to 1000");
    assert_eq!(param(&link, "max"), ["5000"], "max is repeated as sent");
    assert_eq!(param(&link, "startTime"), [START]);
    assert_eq!(param(&link, "endTime"), [END]);
    assert_eq!(param(&link, "orgId"), [app.org.to_string()]);
    assert_eq!(param(&link, "cursor").len(), 1);
    assert!(param(&link, "offset").is_empty());
    let walked = app.walk(&app.security_path(START, END, "max=7"), &app.token_audit).await;
    assert_eq!(ids(&walked), ids(&events));
    // A walk is pinned to its first page: events ingested meanwhile (even inside the window) wait
    // for a fresh walk.
    let first = app.get(&app.security_path(START, END, "max=600"), &app.token_audit).await;
    let link = next_link(first.headers()).expect("second page");
    app.ingest_ok("security", &json!([security_event(&at(T0, -5), "LOGINS", "late")])).await;
    let rest = app.walk(&link, &app.token_audit).await;
    assert_eq!(rest.len(), 1_205 - 600);
    assert_eq!(app.walk(&app.security_path(START, END, "max=1000"), &app.token_audit).await.len(), 1_206);
}

#[tokio::test]
async fn errors_follow_the_admin_audit_rules_in_order() {
    let app = spawn_app().await;
    let org = enc(&app.org.to_string());
    let missing = [
        ("orgId", format!("{SECURITY_EVENTS}?startTime={}&endTime={}", enc(START), enc(END))),
        ("startTime", format!("{SECURITY_EVENTS}?orgId={org}&endTime={}", enc(END))),
        ("endTime", format!("{SECURITY_EVENTS}?orgId={org}&startTime={}", enc(START))),
    ];
    for (name, path) in missing {
        let body = assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
        assert!(error_text(&body).contains(name), "{path}: {body}");
    }
    let bad = [
        ("startTime", app.security_path("2024-01-01", END, "")),
        ("endTime", app.security_path(START, "not a time", "")),
        ("startTime", app.security_path(END, START, "")),
        ("endTime", app.security_path("2023-01-01T00:00:00Z", "2024-01-03T00:00:00Z", "")),
        ("max", app.security_path(START, END, "max=0")),
        ("max", app.security_path(START, END, "max=ten")),
        ("actorId", app.security_path(START, END, "actorId=a&actorId=b")),
        ("cursor", app.security_path(START, END, "cursor=AAAA")),
    ];
    for (name, path) in bad {
        let body = assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
        assert!(error_text(&body).contains(name), "{path}: {body}");
    }
    let span = app.security_path("2023-01-01T00:00:00Z", "2024-01-03T00:00:00Z", "");
    let body = assert_webex_error(app.get(&span, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    assert!(error_text(&body).contains(ONE_YEAR_MESSAGE), "{body}");
    // A people id where an org is expected is 400, not 403.
    let path = format!("{SECURITY_EVENTS}?orgId={}&startTime={}&endTime={}", enc(&people_id()), enc(START), enc(END));
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    // Precedence: 401 → 403 scope → 400 → 403 org.
    assert_webex_error(app.get(&app.security_path(START, END, ""), "atr_nope").await, StatusCode::UNAUTHORIZED).await;
    let scope = app.get(&app.security_path(START, "bad", ""), &app.token_compliance).await;
    assert_webex_error(scope, StatusCode::FORBIDDEN).await;
    let other = enc(&app.other_org.to_string());
    let path = format!("{SECURITY_EVENTS}?orgId={other}&startTime=bad&endTime={}", enc(END));
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::BAD_REQUEST).await;
    let path = format!("{SECURITY_EVENTS}?orgId={other}&startTime={}&endTime={}", enc(START), enc(END));
    assert_webex_error(app.get(&path, &app.token_audit).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn orgs_are_isolated_and_kinds_do_not_mix() {
    let app = spawn_app().await;
    seed(&app, 3).await;
    app.ingest_ok("admin", &json!([admin_event(T0, "LOGINS", "jane")])).await;
    let other = enc(&app.other_org.to_string());
    let path = format!("{SECURITY_EVENTS}?orgId={other}&startTime={}&endTime={}", enc(START), enc(END));
    let theirs = items(&app.get_json(&path, &app.other_token_all).await);
    assert!(theirs.is_empty(), "another org sees this org's sign-ins");
    // Sign-ins are not admin audit events, and admin LOGINS events are not sign-ins.
    assert_eq!(items(&app.get_json(&app.security_path(START, END, ""), &app.token_all).await).len(), 3);
    assert_eq!(app.admin_items(START, END, "").await.len(), 1);
    // A cursor of the admin audit listing does not continue a security walk.
    app.ingest_ok("admin", &json!([admin_event(&at(T0, 1), "LOGINS", "jane")])).await;
    let admin = app.get(&app.admin_path(START, END, "max=1"), &app.token_all).await;
    let cursor = param(&next_link(admin.headers()).expect("admin link"), "cursor").remove(0);
    let path = app.security_path(START, END, &format!("cursor={}", enc(&cursor)));
    assert_webex_error(app.get(&path, &app.token_all).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn ingest_validates_security_events() {
    let app = spawn_app().await;
    let cases = [
        (json!({"data": {"eventCategory": "LOGINS"}}), "actorId"),
        (json!({"actorId": "a"}), "data"),
        (json!({"actorId": "a", "data": {}}), "data.eventCategory"),
        (json!({"actorId": "a", "data": {"eventCategory": "LOGINS", "actorIp": 7}}), "data.actorIp"),
        (json!({"actorId": "a", "data": {"eventCategory": "LOGINS", "actorUserAgent": ["x"]}}), "data.actorUserAgent"),
    ];
    for (item, field) in cases {
        let response =
            app.ingest("security", &app.token_ingest, &json!([security_event(T0, "LOGINS", "ok"), item])).await;
        let body = assert_webex_error(response, StatusCode::BAD_REQUEST).await;
        assert!(error_text(&body).contains(&format!("items[1].{field}")), "{body}");
    }
    assert!(items(&app.get_json(&app.security_path(START, END, ""), &app.token_all).await).is_empty());
    // Idempotent by id.
    let event = security_event(T0, "LOGINS", "jane");
    let first = app.ingest_ok("security", &json!([event])).await;
    let again = app.ingest_ok("security", &json!([event])).await;
    assert_eq!(again["duplicates"], 1);
    assert_eq!(again["items"][0]["seq"], first["items"][0]["seq"]);
}
