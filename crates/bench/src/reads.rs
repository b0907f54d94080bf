//! Read measurements against a running server: first-page latency with and without filters, pages
//! deep into a `Link` walk, Connect `totalRecords`, and export throughput.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub samples: usize,
}

impl Latency {
    pub fn of(mut samples: Vec<f64>) -> Latency {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Latency { p50_ms: at(0.5), p99_ms: at(0.99), samples: samples.len() }
    }
}

pub struct Reader {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Reader {
    async fn get(&self, url: &str) -> anyhow::Result<(f64, reqwest::header::HeaderMap, String)> {
        let started = Instant::now();
        let response = self.client.get(url).bearer_auth(&self.token).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if !status.is_success() {
            bail!("GET {url}: {status}: {}", &body[..body.len().min(200)]);
        }
        Ok((ms, headers, body))
    }

    /// Latency of one URL over `n` sequential requests (after a few warm-up requests).
    pub async fn latency(&self, url: &str, n: usize) -> anyhow::Result<Latency> {
        for _ in 0..5 {
            self.get(url).await?;
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push(self.get(url).await?.0);
        }
        Ok(Latency::of(samples))
    }

    /// Latency of pages at each depth of a `Link` walk from `first` (page 1 = `first`).
    pub async fn by_depth(&self, first: &str, depths: &[usize], n: usize) -> anyhow::Result<Vec<(usize, Latency)>> {
        let mut out = Vec::new();
        let mut url = first.to_owned();
        let mut page = 1;
        for &depth in depths {
            while page < depth {
                let (_, headers, _) = self.get(&url).await?;
                url = next_link(&headers).with_context(|| format!("the walk ended before page {depth}"))?;
                page += 1;
            }
            out.push((depth, self.latency(&url, n).await?));
        }
        Ok(out)
    }

    /// Connect export with a total: latency and the total reported.
    pub async fn connect_total(&self, n: usize) -> anyhow::Result<(Latency, u64)> {
        let url = format!("{}/connectapi/v1/auditManager/audit-logs/export", self.base);
        let mut samples = Vec::new();
        let mut total = 0;
        for i in 0..n + 3 {
            let started = Instant::now();
            let response =
                self.client.post(&url).bearer_auth(&self.token).json(&json!({ "range": 365, "max": 1 })).send().await?;
            let status = response.status();
            let body: Value = response.json().await?;
            if !status.is_success() {
                bail!("Connect export: {status}: {body}");
            }
            total = body["totalRecords"].as_u64().unwrap_or(0);
            if i >= 3 {
                samples.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok((Latency::of(samples), total))
    }
}

pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get("link")?.to_str().ok()?;
    let start = value.find('<')? + 1;
    let end = value.find('>')?;
    Some(value[start..end].to_owned())
}
