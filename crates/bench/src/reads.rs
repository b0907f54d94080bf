//! Read measurements against a running server: first-page latency with and without filters, pages
//! deep into a `Link` walk, Connect `totalRecords`, free-text search, and export throughput.

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
    /// Latency of `request` (which gives its milliseconds) over `n` sequential calls, after
    /// `warm_ups` calls not counted.
    pub async fn sample(
        warm_ups: usize,
        n: usize,
        mut request: impl AsyncFnMut() -> anyhow::Result<f64>,
    ) -> anyhow::Result<Latency> {
        for _ in 0..warm_ups {
            request().await?;
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push(request().await?);
        }
        Ok(Latency::of(samples))
    }

    fn of(mut samples: Vec<f64>) -> Latency {
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
        Latency::sample(5, n, async || Ok(self.get(url).await?.0)).await
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

impl Reader {
    /// The first `lines` events of a streamed export (fewer if it ends before), then the
    /// connection dropped: what a search box waits for before showing a page.
    async fn first_lines(&self, url: &str, lines: usize) -> anyhow::Result<(f64, usize)> {
        let started = Instant::now();
        let mut response = self.client.get(url).bearer_auth(&self.token).send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        let mut seen = 0;
        while seen < lines {
            let Some(chunk) = response.chunk().await? else { break };
            seen += chunk.iter().filter(|b| **b == b'\n').count();
        }
        Ok((started.elapsed().as_secs_f64() * 1e3, seen.min(lines)))
    }

    /// Latency of the first `lines` events of an export over `n` requests (after a few warm-up ones).
    pub async fn first_lines_latency(&self, url: &str, lines: usize, n: usize) -> anyhow::Result<Latency> {
        Latency::sample(5, n, async || Ok(self.first_lines(url, lines).await?.0)).await
    }

    /// Every line of an export, counted.
    pub async fn count_lines(&self, url: &str) -> anyhow::Result<usize> {
        self.first_lines(url, usize::MAX).await.map(|(_, n)| n)
    }
}

/// A rare and a common word of the admin events in `sample` (their JSON): the word of fewest
/// occurrences among those at least 5 characters long, and the word of most occurrences that is
/// not in every event. Words as the server cuts them, counted once per event.
pub fn search_words(sample: &[Value]) -> Option<(String, String)> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for event in sample {
        let data = &event["data"];
        let mut words: Vec<String> = Vec::new();
        for field in ["actionText", "actorName", "targetName"] {
            let text = data[field].as_str().unwrap_or_default().to_lowercase();
            words.extend(text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned));
        }
        words.sort();
        words.dedup();
        for w in words {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut by_count: Vec<(usize, String)> = counts.into_iter().map(|(w, c)| (c, w)).collect();
    by_count.sort();
    let rare = by_count.iter().find(|(_, w)| w.chars().count() >= 5 && !w.chars().any(|c| c.is_ascii_digit()))?;
    let common = by_count.iter().rev().find(|(c, _)| *c < sample.len())?;
    Some((rare.1.clone(), common.1.clone()))
}

pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get("link")?.to_str().ok()?;
    let start = value.find('<')? + 1;
    let end = value.find('>')?;
    Some(value[start..end].to_owned())
}
