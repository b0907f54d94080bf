//! Identity endpoints clients call first.

use auditrail_core::OrgId;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn is_wire_timestamp(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 24 && s.ends_with('Z') && auditrail_core::Timestamp::parse(s, "t").is_ok())
}

#[tokio::test]
async fn people_me_describes_the_token_holder() {
    let app = spawn_app().await;
    let me = app.get_json("/v1/people/me", &app.token_all).await;
    assert_eq!(me["orgId"], app.org.to_string());
    assert_eq!(me["emails"], serde_json::json!(["alice@acme.example"]));
    assert_eq!(me["displayName"], "Alice Admin");
    assert_eq!(me["type"], "person");
    assert!(is_wire_timestamp(&me["created"]), "{me}");
    let id = me["id"].as_str().unwrap();
    assert!(!id.contains('='), "{id}");
    let uri = decode_webex_id(id);
    let uuid = uri.strip_prefix("ciscospark://us/PEOPLE/").unwrap_or_else(|| panic!("person id decodes to {uri}"));
    uuid::Uuid::parse_str(uuid).unwrap();

    // Stable for a token, distinct between tokens; webexpythonsdk-style `me.orgId` discovery works.
    let again = app.get_json("/v1/people/me", &app.token_all).await;
    assert_eq!(again["id"], me["id"]);
    let other = app.get_json("/v1/people/me", &app.token_ingest).await;
    assert_ne!(other["id"], me["id"]);
    assert_eq!(other["displayName"], "Ingest Bot");
    assert_eq!(other["emails"], serde_json::json!([]));
    assert_eq!(other["orgId"], app.org.to_string());
    let theirs = app.get_json("/v1/people/me", &app.other_token_all).await;
    assert_eq!(theirs["orgId"], app.other_org.to_string());
    assert_eq!(OrgId::parse(theirs["orgId"].as_str().unwrap(), "orgId").unwrap(), app.other_org);
}

#[tokio::test]
async fn organizations_lists_exactly_the_tokens_org() {
    let app = spawn_app().await;
    for token in [&app.token_all, &app.token_audit, &app.token_compliance, &app.token_ingest] {
        let body = app.get_json("/v1/organizations", token).await;
        let orgs = items(&body);
        assert_eq!(orgs.len(), 1, "{body}");
        assert_eq!(orgs[0]["id"], app.org.to_string());
        assert_eq!(orgs[0]["displayName"], "Acme");
        assert!(is_wire_timestamp(&orgs[0]["created"]), "{body}");
    }
    let body = app.get_json("/v1/organizations", &app.other_token_all).await;
    assert_eq!(ids(&items(&body)), vec![app.other_org.to_string()]);
}

#[tokio::test]
async fn organization_by_id_is_only_the_own_org() {
    let app = spawn_app().await;
    let listed = items(&app.get_json("/v1/organizations", &app.token_all).await).remove(0);
    for form in [app.org.to_string(), app.org.uuid().to_string()] {
        let one = app.get_json(&format!("/v1/organizations/{}", enc(&form)), &app.token_all).await;
        assert_eq!(one, listed, "{form}");
    }
    let other = format!("/v1/organizations/{}", enc(&app.other_org.to_string()));
    assert_webex_error(app.get(&other, &app.token_all).await, StatusCode::NOT_FOUND).await;
    let unknown = format!("/v1/organizations/{}", uuid::Uuid::new_v4());
    assert_webex_error(app.get(&unknown, &app.token_all).await, StatusCode::NOT_FOUND).await;
    let garbage = app.get("/v1/organizations/not-an-org", &app.token_all).await;
    assert!(garbage.status().is_client_error(), "{}", garbage.status());
}

#[tokio::test]
async fn identity_endpoints_need_a_valid_token() {
    let app = spawn_app().await;
    for path in ["/v1/people/me", "/v1/organizations", &format!("/v1/organizations/{}", enc(&app.org.to_string()))] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_webex_error(response, StatusCode::UNAUTHORIZED).await;
        assert_webex_error(app.get(path, "garbage").await, StatusCode::UNAUTHORIZED).await;
    }
}
