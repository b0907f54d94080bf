//! `auditrail pull`: mirror an org of any Webex-compatible source (real Webex, or another
//! auditrail) into the same org of an auditrail server, through the two public contracts only:
//! the source's read APIs and the destination's ingest API.
//!
//! Per kind, a run reads from the high-water mark (minus `--overlap`) or `--since` up to the
//! moment it started, in windows the source accepts (see [`crate::client::pages`]), and sends
//! every page to the destination, ids verbatim. The destination deduplicates by id, so the
//! overlap and any re-run cost bandwidth, never duplicates; Connect logs from real Webex have no
//! id, so one is derived from the SHA-256 of the log's RFC 8785 form (the same log always gets
//! the same id). The mark advances only after the destination acknowledged a batch, and only as
//! far as the source has been read in order (see [`crate::pull_state`]).

use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use auditrail_core::ids::webex_id;
use auditrail_core::{Kind, OrgId, Timestamp};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::cli::PullArgs;
use crate::client::pages::{DAY_MS, Query, Walker, created_of, id_of};
use crate::client::{Api, Retry, parse_base};
use crate::progress;
use crate::pull_state::{Key, State};
use crate::timearg;

/// Items per ingest request.
const BATCH: usize = 1000;

struct PullCtx {
    source: Api,
    dest: Api,
    connect_url: Url,
    org: OrgId,
    /// The org id as given, sent to the source (`orgId` of admin audit).
    org_raw: String,
    state: State,
    since: Timestamp,
    overlap_ms: i64,
    now: Timestamp,
    max: Option<u32>,
}

#[derive(Default)]
struct Summary {
    read: u64,
    accepted: u64,
    duplicates: u64,
    mark: Option<Timestamp>,
    skipped: bool,
}

#[derive(Deserialize)]
struct Receipt {
    accepted: u64,
    duplicates: u64,
}

pub async fn run(args: &PullArgs) -> anyhow::Result<()> {
    let dest = Api::from_args(&args.server)?;
    let Some(token) = args.source_token.as_deref().filter(|t| !t.trim().is_empty()) else {
        bail!("no source token given: pass --source-token TOKEN or set AUDITRAIL_PULL_SOURCE_TOKEN");
    };
    let source = Api::new(&args.source, "--source", token.trim().to_owned(), args.server.retries, "the source")?;
    let connect_url = match &args.connect_source {
        Some(raw) => {
            let base = parse_base(raw, "--connect-source")?;
            if base.path().ends_with("/export") {
                base
            } else {
                join(&base, "/connectapi/v1/auditManager/audit-logs/export")
            }
        }
        None => source.url("/connectapi/v1/auditManager/audit-logs/export"),
    };
    let org = OrgId::parse(&args.org, "--org")?;
    let now = Timestamp::now();
    let since = match &args.since {
        Some(raw) => timearg::parse_time(raw, "--since", now)?,
        None => now.saturating_add_millis(-365 * DAY_MS),
    };
    // The destination token must act for the same org, or everything would land elsewhere.
    let me = dest.get_json(dest.url("/v1/people/me")).await.context("cannot check the destination token")?;
    let dest_org = me.get("orgId").and_then(Value::as_str).and_then(|o| OrgId::parse(o, "orgId").ok());
    if dest_org.as_ref() != Some(&org) {
        let shown = dest_org.map_or("an unknown org".to_owned(), |o| o.to_string());
        bail!(
            "the destination token acts for {shown}, not {org}: create the org with `auditrail org create --id {org}` and a token for it"
        );
    }
    let state = State::open(match &args.state {
        Some(path) => path.clone(),
        None => crate::pull_state::default_path()?,
    })?;
    let mut kinds: Vec<Kind> = args.kinds.iter().map(|k| k.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let ctx = PullCtx {
        source,
        dest,
        connect_url,
        org,
        org_raw: args.org.trim().to_owned(),
        state,
        since,
        overlap_ms: i64::try_from(args.overlap.saturating_mul(1000)).unwrap_or(i64::MAX),
        now,
        max: args.max,
    };
    let mut failures = Vec::new();
    for kind in &kinds {
        let started = Instant::now();
        match pull_kind(&ctx, *kind).await {
            Ok(s) if s.skipped => eprintln!("{kind}: skipped, another pull of this org and kind is running"),
            Ok(s) => eprintln!(
                "{kind}: read {} events, {} new, {} already present; mark {} ({:.1} s)",
                s.read,
                s.accepted,
                s.duplicates,
                s.mark.map_or("none".to_owned(), |m| m.to_string()),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                let line = format!("{kind}: {e:#}");
                if kinds.len() > 1 {
                    eprintln!("error: {line}");
                }
                failures.push(line);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if kinds.len() == 1 => Err(anyhow!("{}", failures.remove(0))),
        n => Err(anyhow!("{n} of {} kinds failed (see above); state in {}", kinds.len(), ctx.state.path().display())),
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url
}

async fn pull_kind(ctx: &PullCtx, kind: Kind) -> anyhow::Result<Summary> {
    let Some(_lock) = ctx.state.try_lock_run(&ctx.org, kind)? else {
        return Ok(Summary { skipped: true, ..Summary::default() });
    };
    let key = Key {
        org: ctx.org.clone(),
        kind,
        destination: ctx.dest.base().to_string(),
        source: ctx.source.base().to_string(),
    };
    let stored = ctx.state.mark(&key)?;
    let from = match stored {
        Some(mark) => mark.saturating_add_millis(-ctx.overlap_ms),
        None => ctx.since,
    };
    let mut summary = Summary { mark: stored, ..Summary::default() };
    if from > ctx.now {
        return Ok(summary);
    }
    let query = Query {
        kind,
        org: matches!(kind, Kind::Admin | Kind::Security).then(|| ctx.org_raw.clone()),
        from: Some(from),
        to: ctx.now,
        actors: Vec::new(),
        categories: Vec::new(),
        resource: None,
        event_type: None,
        service_type: None,
        roles: Vec::new(),
        range: None,
        max: Some(ctx.max.unwrap_or(match kind {
            Kind::Admin => 200,
            Kind::Compliance | Kind::Connect | Kind::Security | Kind::Access | Kind::System => BATCH as u32,
        })),
    };
    let mut walker = Walker::new(&ctx.source, query)?;
    if kind == Kind::Connect {
        walker = walker.with_url(ctx.connect_url.clone());
    }
    let ingest = ctx.dest.url(&format!("/auditrail/v1/ingest/{kind}"));
    let bar = progress::bar(None, &format!("pulling {kind}"));
    // Within a window: the newest `created` acknowledged, and whether the source has served the
    // window in ascending order so far (only then does that say "everything before it is done").
    let mut ordered = true;
    let mut newest: Option<Timestamp> = None;
    while let Some(page) = walker.next_page().await? {
        summary.read += page.items.len() as u64;
        let mut texts = Vec::with_capacity(page.items.len());
        for raw in &page.items {
            match created_of(raw) {
                Some(created) if newest.is_none_or(|n| created >= n) => newest = Some(created),
                _ => ordered = false,
            }
            texts.push(with_id(kind, raw)?);
        }
        for chunk in texts.chunks(BATCH) {
            let body = format!("[{}]", chunk.join(","));
            let receipt = ctx
                .dest
                .post(ingest.clone(), "application/json", body.into_bytes(), Retry::Always)
                .await
                .context("the destination refused a batch")?;
            let receipt: Receipt =
                serde_json::from_slice(&receipt.body).context("the destination's answer is not a receipt")?;
            summary.accepted += receipt.accepted;
            summary.duplicates += receipt.duplicates;
            bar.inc(chunk.len() as u64);
        }
        let candidate = if page.window_done {
            Some(page.window.to)
        } else if ordered {
            newest
        } else {
            None
        };
        // Saved after every acknowledged page that moved it: a state write costs a few
        // milliseconds, a page far more, and a kill then loses at most one page of progress.
        if let Some(c) = candidate
            && summary.mark.is_none_or(|m| c > m)
        {
            summary.mark = Some(c);
            ctx.state.advance(&key, c)?;
        }
        if page.window_done {
            ordered = true;
            newest = None;
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// The item's text for the destination: verbatim when it has an id; a Connect log without one
/// gets the id derived from its content.
fn with_id(kind: Kind, raw: &RawValue) -> anyhow::Result<String> {
    if kind != Kind::Connect || id_of(raw.get()).is_some() {
        return Ok(raw.get().to_owned());
    }
    let Ok(Value::Object(mut log)) = serde_json::from_str::<Value>(raw.get()) else {
        return Ok(raw.get().to_owned()); // not an object: the destination will say what is wrong
    };
    log.remove("id");
    let id = derived_id(&Value::Object(log.clone()))?;
    log.insert("id".to_owned(), Value::String(id));
    Ok(Value::Object(log).to_string())
}

/// `base64("ciscospark://us/EVENT/<uuid>")` where the UUID (version 8, "custom") is the first
/// 16 bytes of SHA-256 over the RFC 8785 canonical JSON of the log.
pub fn derived_id(log: &Value) -> anyhow::Result<String> {
    let canonical = serde_json_canonicalizer::to_vec(log).context("cannot canonicalise a Connect log")?;
    let digest = Sha256::digest(&canonical);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(webex_id("EVENT", uuid::Uuid::from_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_logs_without_id_get_a_stable_content_id() {
        let a = r#"{"actionText":"x","created":"2024-01-01T00:00:00.000Z","adminRoles":["Owner"]}"#;
        let b = r#"{ "adminRoles": [ "Owner" ], "created": "2024-01-01T00:00:00.000Z", "actionText": "x" }"#;
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        let ta = with_id(Kind::Connect, &raw(a)).unwrap();
        let tb = with_id(Kind::Connect, &raw(b)).unwrap();
        let id = |t: &str| id_of(t).unwrap();
        assert_eq!(id(&ta), id(&tb), "key order and whitespace do not change the id");
        let other = with_id(Kind::Connect, &raw(&a.replace("\"x\"", "\"y\""))).unwrap();
        assert_ne!(id(&ta), id(&other));
        let decoded = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD_NO_PAD, id(&ta)).unwrap(),
        )
        .unwrap();
        assert!(decoded.starts_with("ciscospark://us/EVENT/") && decoded.as_bytes()[22 + 14] == b'8', "{decoded}");
        // Items with ids, and other kinds, pass through byte for byte.
        let with = r#"{"id":"keep", "actionText":"x"}"#;
        assert_eq!(with_id(Kind::Connect, &raw(with)).unwrap(), with);
        assert_eq!(with_id(Kind::Admin, &raw(a)).unwrap(), a);
    }
}
