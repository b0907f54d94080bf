//! Pull: mirror an org of any Webex-compatible source (real Webex, or another auditrail) into the
//! same org of an auditrail server, through the two public contracts only: the source's read APIs
//! and the destination's ingest API.
//!
//! Per kind, a run reads from the high-water mark (minus the overlap) or the start time up to the
//! moment it started, in windows the source accepts (see [`crate::pages`]), and sends every page
//! to the destination, ids verbatim. The destination deduplicates by id, so the overlap and any
//! re-run cost bandwidth, never duplicates; Connect logs from real Webex have no id, so one is
//! derived from the SHA-256 of the log's RFC 8785 form (the same log always gets the same id).
//! The mark advances only after the destination acknowledged a batch, and only as far as the
//! source has been read in order (see [`State`]).

mod state;

use anyhow::{Context, bail};
use auditrail_core::ids::webex_id;
use auditrail_core::{Kind, OrgId, Timestamp};
use reqwest::Url;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

pub use state::{State, default_path};

use crate::api::{Api, Retry, join, parse_base};
use crate::pages::{Query, Walker, created_of, id_of};
use state::Key;

/// Items per ingest request.
const BATCH: usize = 1000;
const CONNECT_EXPORT: &str = "/connectapi/v1/auditManager/audit-logs/export";

/// One run of pull: where it reads, where it writes, and from when.
pub struct Pull {
    /// The Webex-compatible source read from.
    pub source: Api,
    /// Where Connect logs are read (see [`connect_url`]).
    pub connect_url: Url,
    /// The auditrail server written to; its token must act for `org`.
    pub dest: Api,
    /// The org mirrored, the same on both ends.
    pub org: OrgId,
    /// The org id as the user gave it, sent to the source (`orgId` of admin and security audit).
    pub org_as_given: String,
    /// The marks and locks of this run.
    pub state: State,
    /// Where a kind without a mark starts.
    pub since: Timestamp,
    /// How far before its mark a kind is read again, in milliseconds.
    pub overlap_ms: i64,
    /// The end of what this run reads: the moment it started.
    pub until: Timestamp,
    /// Items per page asked of the source; `None` for each API's usual page.
    pub max: Option<u32>,
}

/// What a run did for one kind.
#[derive(Debug, Default)]
pub struct Summary {
    /// Items read from the source.
    pub read: u64,
    /// Items the destination stored.
    pub accepted: u64,
    /// Items the destination already had.
    pub duplicates: u64,
    /// The kind's mark after the run.
    pub mark: Option<Timestamp>,
    /// Another pull of this org and kind held the lock: nothing was done.
    pub skipped: bool,
}

/// Where Connect logs are read: `given` (a regional Connect API the user configured, its
/// export path added unless it ends in `/export`), else the source's own export endpoint.
pub fn connect_url(source: &Api, given: Option<&str>) -> anyhow::Result<Url> {
    let Some(raw) = given else { return Ok(source.url(CONNECT_EXPORT)) };
    let base = parse_base(raw, "--connect-source")?;
    Ok(if base.path().ends_with("/export") { base } else { join(&base, CONNECT_EXPORT) })
}

/// An error unless the destination's token acts for `org`: otherwise everything pulled would land
/// in another org.
pub async fn check_destination(dest: &Api, org: &OrgId) -> anyhow::Result<()> {
    let named = dest.token_org().await.context("cannot check the destination token")?;
    let dest_org = named.and_then(|o| OrgId::parse(&o, "orgId").ok());
    if dest_org.as_ref() != Some(org) {
        let shown = dest_org.map_or("an unknown org".to_owned(), |o| o.to_string());
        bail!(
            "the destination token acts for {shown}, not {org}: create the org with `auditrail org create --id {org}` and a token for it"
        );
    }
    Ok(())
}

impl Pull {
    /// Pulls one kind; `sent` is told how many items each acknowledged batch held.
    pub async fn kind(&self, kind: Kind, sent: &dyn Fn(u64)) -> anyhow::Result<Summary> {
        let Some(_lock) = self.state.try_lock_run(&self.org, kind)? else {
            return Ok(Summary { skipped: true, ..Summary::default() });
        };
        let key = Key {
            org: self.org.clone(),
            kind,
            destination: self.dest.base().to_string(),
            source: self.source.base().to_string(),
        };
        let stored = self.state.mark(&key)?;
        let from = match stored {
            Some(mark) => mark.saturating_add_millis(-self.overlap_ms),
            None => self.since,
        };
        let mut summary = Summary { mark: stored, ..Summary::default() };
        if from > self.until {
            return Ok(summary);
        }
        let mut walker = Walker::new(&self.source, self.query(kind, from))?;
        if kind == Kind::Connect {
            walker = walker.with_url(self.connect_url.clone());
        }
        // Within a window: the newest `created` acknowledged, and whether the source has served
        // the window in ascending order so far (only then does that say "everything before it is
        // done").
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
                let receipt = self
                    .dest
                    .ingest(kind, "application/json", body.into_bytes(), Retry::Always)
                    .await
                    .context("the destination refused a batch")?;
                summary.accepted += receipt.accepted;
                summary.duplicates += receipt.duplicates;
                sent(chunk.len() as u64);
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
                self.state.advance(&key, c)?;
            }
            if page.window_done {
                ordered = true;
                newest = None;
            }
        }
        Ok(summary)
    }

    fn query(&self, kind: Kind, from: Timestamp) -> Query {
        Query {
            kind,
            org: matches!(kind, Kind::Admin | Kind::Security).then(|| self.org_as_given.clone()),
            from: Some(from),
            to: self.until,
            actors: Vec::new(),
            categories: Vec::new(),
            resource: None,
            event_type: None,
            service_type: None,
            roles: Vec::new(),
            range: None,
            text: None,
            max: Some(self.max.unwrap_or(match kind {
                Kind::Admin => 200,
                Kind::Compliance | Kind::Connect | Kind::Security | Kind::Access | Kind::System => BATCH as u32,
            })),
        }
    }
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
fn derived_id(log: &Value) -> anyhow::Result<String> {
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

    #[test]
    fn connect_urls() {
        let source = Api::new("https://webexapis.com/v1/", "--source", "t".into(), 0, "the source").unwrap();
        assert_eq!(connect_url(&source, None).unwrap().as_str(), format!("https://webexapis.com{CONNECT_EXPORT}"));
        let regional = connect_url(&source, Some("https://api.wxcc-eu1.cisco.com/")).unwrap();
        assert_eq!(regional.as_str(), format!("https://api.wxcc-eu1.cisco.com{CONNECT_EXPORT}"));
        let exact = "https://api.wxcc-eu1.cisco.com/connectapi/v1/x/export";
        assert_eq!(connect_url(&source, Some(exact)).unwrap().as_str(), exact);
        assert!(connect_url(&source, Some("not a url")).is_err());
    }
}
