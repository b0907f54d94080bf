//! Free-text search (`q`): on the export, with its other filters, refused in the Webex error shape
//! when malformed, confined to the token's org, ignored by the Webex listings, documented in
//! `/openapi.json`; and `auditrail events list --q` reading it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const EXPORT: &str = "/auditrail/v1/export";

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("an NDJSON line")).collect()
}

/// Admin events whose action text is `text`, one a minute from `base`.
fn admin_texts(base: &str, texts: &[(&str, &str, &str)]) -> Vec<Value> {
    texts
        .iter()
        .enumerate()
        .map(|(i, (actor, category, text))| {
            let mut event = admin_event(&at(base, i as i64 * 60_000), category, actor);
            event["data"]["actionText"] = json!(text);
            event
        })
        .collect()
}

const BASE: &str = "2024-03-01T00:00:00.000Z";

async fn search(app: &TestApp, query: &str, token: &str) -> Vec<Value> {
    let response = app.get(&format!("{EXPORT}?{query}"), token).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    assert!(
        response.headers()["auditrail-filters"].to_str().expect("ASCII").split(',').any(|f| f == "q"),
        "the export says it applies q"
    );
    lines(&response.text().await.expect("body"))
}

#[tokio::test]
async fn the_export_narrows_by_every_word_with_its_other_filters() {
    let app = spawn_app().await;
    let events = admin_texts(
        BASE,
        &[
            ("jane", "USERS", "Jane Doe reset the password of Bob"),
            ("bob", "LOGINS", "bob.builder@example.com signed in from Zürich"),
            ("jane", "LOGINS", "Jane Doe signed in"),
            ("janet", "USERS", "Janet created location Zürich"),
        ],
    );
    app.ingest_ok("admin", &json!(events)).await;
    let token = &app.token_audit;
    let found = |items: Vec<Value>| ids(&items);
    assert_eq!(found(search(&app, "kind=admin&q=zurich", token).await), Vec::<String>::new(), "no folding of ü");
    assert_eq!(
        found(search(&app, "kind=admin&q=Z%C3%9CRICH", token).await),
        ids(&[events[1].clone(), events[3].clone()])
    );
    assert_eq!(
        found(search(&app, "kind=admin&q=jane%20doe", token).await),
        ids(&[events[0].clone(), events[2].clone()])
    );
    let by_email = search(&app, &format!("kind=admin&q={}", enc("BOB.BUILDER@example.com")), token).await;
    assert_eq!(found(by_email), ids(&[events[1].clone()]));
    let filtered = search(&app, "kind=admin&q=jane&eventCategories=LOGINS&actorId=jane", token).await;
    assert_eq!(found(filtered), ids(&[events[2].clone()]));
    let window = format!("kind=admin&q=signed&from={}&to={}", enc(&at(BASE, 90_000)), enc(&at(BASE, 200_000)));
    assert_eq!(found(search(&app, &window, token).await), ids(&[events[2].clone()]));
    assert!(search(&app, "kind=security&q=jane", token).await.is_empty(), "another kind's events are not searched");
    // An empty q is no search.
    assert_eq!(search(&app, "kind=admin&q=", token).await.len(), 4);
}

#[tokio::test]
async fn a_bad_q_or_a_filter_the_kind_lacks_is_a_webex_400() {
    let app = spawn_app().await;
    for query in [
        "kind=admin&q=%20%20",
        "kind=admin&q=--%40%40",
        "kind=admin&q=a%00b",
        "kind=admin&q=x&q=y",
        "kind=compliance&eventCategories=LOGINS",
        "kind=admin&resource=messages",
        "kind=admin&adminRoles=Owner",
    ] {
        let body =
            assert_webex_error(app.get(&format!("{EXPORT}?{query}"), &app.token_all).await, StatusCode::BAD_REQUEST)
                .await;
        let param = if query.contains("q=") { "'q'" } else { "applies to kind" };
        assert!(error_text(&body).contains(param), "{query}: {body}");
    }
    let long = "x".repeat(201);
    let body = assert_webex_error(
        app.get(&format!("{EXPORT}?kind=admin&q={long}"), &app.token_all).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(error_text(&body).contains("at most 200 characters"), "{body}");
    let many = (0..17).map(|i| format!("w{i}")).collect::<Vec<_>>().join("%20");
    assert_webex_error(
        app.get(&format!("{EXPORT}?kind=admin&q={many}"), &app.token_all).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn each_org_searches_its_own_events_only() {
    let app = spawn_app().await;
    let ours = admin_texts(BASE, &[("a", "USERS", "quarterly audit review")]);
    app.ingest_ok("admin", &json!(ours)).await;
    let theirs = admin_texts(BASE, &[("b", "USERS", "quarterly audit review")]);
    let response = app.ingest("admin", &app.other_token_all, &json!(theirs)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(ids(&search(&app, "kind=admin&q=quarterly", &app.token_audit).await), ids(&ours));
    assert_eq!(ids(&search(&app, "kind=admin&q=quarterly", &app.other_token_all).await), ids(&theirs));
}

#[tokio::test]
async fn the_webex_listings_ignore_q_and_the_document_names_it() {
    let app = spawn_app().await;
    let events = admin_texts(BASE, &[("a", "USERS", "alpha"), ("b", "USERS", "beta")]);
    app.ingest_ok("admin", &json!(events)).await;
    let (from, to) = (at(BASE, -1), at(BASE, 3_600_000));
    assert_eq!(ids(&app.admin_items(&from, &to, "&q=alpha").await), ids(&events), "q means nothing to a Webex listing");
    let path = format!("/v1/events?q=alpha&from={}", enc(&from));
    let compliance = app.get_json(&path, &app.token_compliance).await;
    assert_eq!(compliance["items"], json!([]));

    let doc = app.get_json("/openapi.json", &app.token_all).await;
    let params = doc["paths"][EXPORT]["get"]["parameters"].as_array().expect("export parameters").clone();
    let q = params.iter().find(|p| p["name"] == "q").expect("q is documented");
    assert_eq!(q["in"], "query");
    assert!(q["description"].as_str().expect("description").contains("every word"));
    for listing in [ADMIN_EVENTS, "/v1/events"] {
        let params = doc["paths"][listing]["get"]["parameters"].as_array().expect("listing parameters").clone();
        assert!(!params.iter().any(|p| p["name"] == "q"), "{listing} takes no q");
    }
}

/// `events list --q` reads the export with the other filters; a search with `--range` is refused
/// before any request, as is a malformed one.
#[tokio::test]
async fn the_cli_lists_a_search_through_the_export() {
    let app = spawn_app().await;
    let now = now_ms();
    let mut events = admin_texts(
        &ts(now - 3_600_000),
        &[
            ("jane", "USERS", "Jane Doe reset a password"),
            ("jane", "LOGINS", "Jane Doe signed in"),
            ("bob", "LOGINS", "Bob signed in"),
        ],
    );
    app.ingest_ok("admin", &json!(events)).await;
    let connect = vec![connect_event(&ts(now - 60_000), "AUTH", "carol@acme.example", &["Owner"])];
    app.ingest_ok("connect", &json!(connect)).await;
    let (base, token) = (app.base.clone(), app.token_audit.clone());
    let run = |extra: Vec<&'static str>| {
        let (base, token) = (base.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            let args = [&["events", "list", "--server", &base, "--token", &token, "--json"][..], &extra].concat();
            auditrail_command(&args).output().expect("run events list")
        })
    };
    let out = run(vec!["--kind", "admin", "--q", "JANE doe", "--from", "1d"]).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    events.truncate(2);
    assert_eq!(ids(&lines(&String::from_utf8_lossy(&out.stdout))), ids(&events));
    let out =
        run(vec!["--kind", "admin", "--q", "signed", "--category", "LOGINS", "--actor", "bob"]).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
    // A Connect actor is an id or an e-mail, as in the Connect listing.
    let out = run(vec!["--kind", "connect", "--q", "logged", "--actor", "carol@acme.example", "--role", "Owner"])
        .await
        .expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ids(&lines(&String::from_utf8_lossy(&out.stdout))), ids(&connect));

    for (extra, reason) in [
        (vec!["--kind", "connect", "--q", "x", "--range", "1"], "--q cannot be combined with --range"),
        (vec!["--kind", "admin", "--q", "@@"], "at least one letter or digit"),
    ] {
        let out = run(extra).await.expect("join");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "{stderr}");
    }
}

/// A server that ignores `q` (an older auditrail: no `Auditrail-Filters`) would list every event:
/// the CLI refuses its answer instead.
#[tokio::test]
async fn the_cli_refuses_a_server_that_does_not_search() {
    let port = serve_one_ndjson_response("{\"id\":\"a\"}\n");
    let output = tokio::task::spawn_blocking(move || {
        let server = format!("http://127.0.0.1:{port}");
        let args = ["events", "list", "--server", &server, "--token", "atr_x", "--kind", "compliance", "--q", "hello"];
        auditrail_command(&[&args[..], &["--retries", "0"]].concat()).output().expect("run events list")
    })
    .await
    .expect("join");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not apply q"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing listed");
}
