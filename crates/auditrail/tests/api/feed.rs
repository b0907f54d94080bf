//! The ordered feed: every event of the org once, in seq order, whatever its `created`; a `Link`
//! on every page; long polls that answer when an event is committed; the event-stream form with
//! `Last-Event-ID`; scopes and org isolation as everywhere; reads recorded in the access log.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::{Value, json};

use crate::helpers::*;

const FEED: &str = "/auditrail/v1/feed";

/// Follows `Link` from `first` until a page comes back empty; every item, in order.
async fn walk_feed(app: &TestApp, first: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = app.url(first);
    loop {
        let response = app.get_absolute(&url, token).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let next = next_link(response.headers()).expect("every feed page links to the next");
        let page: Value = response.json().await.unwrap();
        let page = page["items"].as_array().unwrap().clone();
        if page.is_empty() {
            assert_eq!(after_of(&next), after_of(&url), "an empty page links to the same position");
            return items;
        }
        let last = page.last().unwrap()["seq"].as_u64().unwrap();
        assert_eq!(after_of(&next), last, "the next page starts after the last item");
        items.extend(page);
        url = next;
    }
}

/// The `after` of a feed URL (0 when it has none).
fn after_of(url: &str) -> u64 {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('&').find_map(|p| p.strip_prefix("after=")).map_or(0, |a| a.parse().unwrap())
}

fn seqs(items: &[Value]) -> Vec<u64> {
    items.iter().map(|i| i["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn the_feed_holds_every_event_once_in_commit_order_whatever_its_created() {
    let app = spawn_app().await;
    let now = now_ms();
    let recent: Vec<Value> = (0..5).map(|i| admin_event(&ts(now - 1_000 + i), "USERS", &people_id())).collect();
    app.ingest_ok("admin", &json!(recent)).await;
    app.ingest_ok("compliance", &json!([compliance_event(&ts(now), "messages", "created", &people_id())])).await;
    // A backfill: years older than the rest, committed last.
    let old = admin_event("2019-03-01T00:00:00.000Z", "USERS", &people_id());
    app.ingest_ok("admin", &json!([old.clone()])).await;

    let items = walk_feed(&app, &format!("{FEED}?max=2"), &app.token_all).await;
    assert_eq!(seqs(&items), (1..=7).collect::<Vec<_>>());
    assert_eq!(items[5]["kind"], "compliance");
    assert_eq!(items[6]["event"]["id"], old["id"], "the backfilled event comes last, at its seq");
    for (item, sent) in items.iter().zip(&recent) {
        assert_eq!((&item["kind"], &item["event"]["id"]), (&json!("admin"), &sent["id"]));
    }
    // The reads above are in the access log, which the default feed leaves out...
    let after = walk_feed(&app, &format!("{FEED}?after=7"), &app.token_all).await;
    assert!(after.is_empty(), "{after:?}");
    // ...and gives when asked for.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let access = walk_feed(&app, &format!("{FEED}?kind=access"), &app.token_all).await;
        if access.iter().any(|i| i["event"]["path"] == FEED) {
            assert!(access.iter().all(|i| i["kind"] == "access" && i["seq"].as_u64().unwrap() > 7));
            break;
        }
        assert!(Instant::now() < deadline, "the feed reads were not recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin_only = walk_feed(&app, &format!("{FEED}?kind=admin&max=10000"), &app.token_all).await;
    assert_eq!(seqs(&admin_only), [1, 2, 3, 4, 5, 7]);
}

#[tokio::test]
async fn the_feed_keeps_to_the_tokens_org_and_scopes() {
    let app = spawn_app().await;
    let now = now_ms();
    app.ingest_ok("admin", &json!([admin_event(&ts(now), "USERS", &people_id())])).await;
    app.ingest_ok("compliance", &json!([compliance_event(&ts(now), "messages", "created", &people_id())])).await;
    let other = walk_feed(&app, FEED, &app.other_token_all).await;
    assert!(other.is_empty(), "another org's token sees nothing of this org: {other:?}");
    let compliance_only = walk_feed(&app, FEED, &app.token_compliance).await;
    assert_eq!(compliance_only.len(), 1);
    assert_eq!(compliance_only[0]["kind"], "compliance");
    let refused = app.get(&format!("{FEED}?kind=admin"), &app.token_compliance).await;
    assert_webex_error(refused, StatusCode::FORBIDDEN).await;
    assert_webex_error(app.get(FEED, &app.token_ingest).await, StatusCode::FORBIDDEN).await;
    for bad in ["after=-1", "kind=nope", "max=0", "max=10001", "wait=61", "after=1&after=2"] {
        assert_webex_error(app.get(&format!("{FEED}?{bad}"), &app.token_all).await, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn a_long_poll_answers_when_an_event_is_committed() {
    let app = spawn_app().await;
    let waiting = {
        let (client, url, token) = (app.client.clone(), app.url(&format!("{FEED}?wait=30")), app.token_all.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let body: Value = client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            (body, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "nothing follows: the request waits");
    let event = admin_event(&ts(now_ms()), "USERS", &people_id());
    app.ingest_ok("admin", &json!([event.clone()])).await;
    let (body, waited) = waiting.await.unwrap();
    assert_eq!(body["items"][0]["event"]["id"], event["id"]);
    assert!(waited < Duration::from_secs(30), "answered by the commit, not by the end of the wait");
    // With nothing to wait for, an empty answer after the wait.
    let empty = app.get_json(&format!("{FEED}?after=1&wait=1"), &app.token_all).await;
    assert_eq!(empty["items"], json!([]));
}

#[tokio::test]
async fn the_event_stream_sends_items_as_they_come_and_resumes_after_last_event_id() {
    let app = spawn_app().await;
    let now = now_ms();
    let first: Vec<Value> = (0..3).map(|i| admin_event(&ts(now + i), "USERS", &people_id())).collect();
    app.ingest_ok("admin", &json!(first)).await;
    let mut stream = app
        .client
        .get(app.url(FEED))
        .bearer_auth(&app.token_all)
        .header(ACCEPT, "text/event-stream")
        .header("Last-Event-ID", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let later = admin_event(&ts(now + 10), "USERS", &people_id());
    app.ingest_ok("admin", &json!([later.clone()])).await;
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !text.contains("id: 4\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk()).await.expect("items arrive").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events: Vec<(u64, Value)> = text
        .split("\n\n")
        .filter_map(|block| {
            let id = block.lines().find_map(|l| l.strip_prefix("id: "))?.parse().ok()?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((id, serde_json::from_str(data).unwrap()))
        })
        .collect();
    assert_eq!(events.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [2, 3, 4], "resumed after Last-Event-ID 1");
    for (id, item) in &events {
        assert_eq!(item["seq"].as_u64(), Some(*id));
    }
    assert_eq!(events[2].1["event"]["id"], later["id"]);
}
