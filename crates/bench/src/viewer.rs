//! The web viewer's pages, as a browser asks for them: signed in once with the store's token (the
//! sign-in form and its cookies, as a browser does), then each page requested over and over.

use std::time::Instant;

use anyhow::{Context, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Map, Value};

use crate::reads::Latency;
use crate::{enc, latency_json};

/// What the pages are asked about: an event that exists, its actor and category.
pub struct Sample<'a> {
    pub id: &'a str,
    pub actor: &'a str,
    pub category: &'a str,
}

struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn sign_in(base: &str, token: &str) -> anyhow::Result<Browser> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let form = client.get(format!("{base}/ui/signin")).send().await?;
        let nonce_cookie = cookie_pair(&form, "auditrail_signin").context("no sign-in cookie")?;
        let html = form.text().await?;
        let nonce = html
            .split("name=\"nonce\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("no nonce in the sign-in form")?
            .to_owned();
        let signed_in = client
            .post(format!("{base}/ui/signin"))
            .header(COOKIE, nonce_cookie)
            .form(&[("token", token), ("nonce", nonce.as_str())])
            .send()
            .await?;
        if signed_in.headers().get(LOCATION).is_none() {
            bail!("signing in to the viewer failed: {}", signed_in.status());
        }
        let cookie = cookie_pair(&signed_in, "auditrail_session").context("no session cookie")?;
        Ok(Browser { client, base: base.to_owned(), cookie })
    }

    async fn get(&self, path: &str) -> anyhow::Result<(f64, String)> {
        let started = Instant::now();
        let response = self.client.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await?;
        let status = response.status();
        let body = response.text().await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if !status.is_success() {
            bail!("GET {path}: {status}");
        }
        Ok((ms, body))
    }

    async fn latency(&self, path: &str, n: usize) -> anyhow::Result<Latency> {
        Latency::sample(3, n, async || Ok(self.get(path).await?.0)).await
    }
}

/// `name=value` of a cookie a response sets.
fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// p50/p99 of every page at this store size.
pub async fn measure(base: &str, token: &str, sample: &Sample<'_>, n: usize) -> anyhow::Result<Value> {
    // One event with a word no other has (idempotent by id, so a reused store keeps one).
    let rare = serde_json::json!([{
        "id": "bench-viewer-rare-word",
        "actorId": sample.actor,
        "data": {"eventCategory": "USERS", "actionText": "Renamed the quetzalcoatl room"},
    }]);
    let stored = reqwest::Client::new()
        .post(format!("{base}/auditrail/v1/ingest/admin"))
        .bearer_auth(token)
        .json(&rare)
        .send()
        .await?;
    if !stored.status().is_success() {
        bail!("ingesting the rare-word event: {}", stored.status());
    }
    let browser = Browser::sign_in(base, token).await?;
    let first = "/ui/events?kind=admin&range=90d";
    let (_, html) = browser.get(first).await?;
    let next = html
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the first page has no next link")?
        .replace("&amp;", "&");
    let pages = [
        ("events, first page", first.to_owned()),
        ("events, next page", next),
        ("events, category", format!("{first}&category={}", enc(sample.category))),
        ("events, actor", format!("{first}&actor={}", enc(sample.actor))),
        ("search, a word of one event", format!("{first}&q=quetzalcoatl")),
        ("search, a word of most events", format!("{first}&q=organization")),
        ("search, two words", format!("{first}&q=logged%20organization")),
        ("event detail", format!("/ui/events/admin/{}", enc(sample.id))),
        ("inclusion proof", format!("/ui/proof/admin/{}", enc(sample.id))),
        ("overview, 30 days", "/ui/overview?kind=admin&range=30d".to_owned()),
        ("overview, 1 year", "/ui/overview?kind=admin&range=1y".to_owned()),
    ];
    let mut out = Map::new();
    for (name, path) in pages {
        let l = browser.latency(&path, n).await?;
        eprintln!("viewer: {name}: p50 {:.2} ms, p99 {:.2} ms", l.p50_ms, l.p99_ms);
        out.insert(name.to_owned(), latency_json(l));
    }
    Ok(Value::Object(out))
}
