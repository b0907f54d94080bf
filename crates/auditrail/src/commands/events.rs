//! `auditrail events list` and `auditrail export`: read a server's events through its public
//! read APIs (the same ones Webex clients use), oldest first.
//!
//! `events list` is for people: an aligned table when stdout is a terminal, otherwise (or with
//! `--json`) NDJSON so it pipes into `jq`. `export` is for machines and archives: it follows
//! every page to the end at constant memory, writes each event's wire JSON verbatim (NDJSON) or
//! a fixed column set (CSV), and replaces `--out FILE` only once the export is complete.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use auditrail_core::{Kind, Timestamp};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::cli::{ExportArgs, ExportFormat, FilterArgs};
use crate::client::Api;
use crate::client::pages::{DAY_MS, Page, Query, Walker, compact};
use crate::{progress, timearg};

/// How far back `events list` and `export` read when `--from` is not given.
const LIST_DEFAULT_DAYS: i64 = 30;
const EXPORT_DEFAULT_DAYS: i64 = 365;

/// Turns the command-line filters into a [`Query`], refusing filters the kind's API lacks, and
/// for admin audit looks up the token's org (`GET /v1/people/me`), which that API requires.
pub async fn query(api: &Api, f: &FilterArgs, default_days: i64, max: Option<u32>) -> anyhow::Result<Query> {
    let kind = f.kind.kind();
    let only = |given: bool, flag: &str, kinds: &[Kind]| -> anyhow::Result<()> {
        if given && !kinds.contains(&kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            bail!("{flag} applies to --kind {} only", names.join(" or "));
        }
        Ok(())
    };
    only(!f.categories.is_empty(), "--category", &[Kind::Admin, Kind::Security, Kind::Connect])?;
    only(f.resource.is_some(), "--resource", &[Kind::Compliance])?;
    only(f.event_type.is_some(), "--type", &[Kind::Compliance])?;
    only(f.service_type.is_some(), "--service-type", &[Kind::Compliance])?;
    only(!f.roles.is_empty(), "--role", &[Kind::Connect])?;
    only(f.range.is_some(), "--range", &[Kind::Connect])?;
    if kind != Kind::Connect && f.actors.len() > 1 {
        bail!("--actor can be given once for --kind {kind} (the API filters on one actorId)");
    }
    if f.range.is_some() && (f.from.is_some() || f.to.is_some()) {
        bail!("--range replaces --from/--to; give one or the other");
    }
    if f.max == Some(0) {
        bail!("invalid --max 0: a page holds at least one event");
    }
    let now = Timestamp::now();
    let to = match &f.to {
        Some(raw) => timearg::parse_time(raw, "--to", now)?,
        None => now,
    };
    let from = match &f.from {
        Some(raw) => Some(timearg::parse_time(raw, "--from", now)?),
        // Compliance has no lower bound by default; the others need one.
        None if kind == Kind::Compliance => None,
        None if f.range.is_some() => None,
        None => Some(to.saturating_add_millis(-default_days * DAY_MS)),
    };
    if let Some(from) = from
        && from > to
    {
        bail!("--from ({from}) is after --to ({to})");
    }
    let org = if matches!(kind, Kind::Admin | Kind::Security) {
        let me = api.get_json(api.url("/v1/people/me")).await.context("cannot find the token's organization")?;
        let Some(org) = me.get("orgId").and_then(Value::as_str) else {
            bail!("/v1/people/me did not name an orgId");
        };
        Some(org.to_owned())
    } else {
        None
    };
    Ok(Query {
        kind,
        org,
        from,
        to,
        actors: f.actors.clone(),
        categories: f.categories.clone(),
        resource: f.resource.clone(),
        event_type: f.event_type.clone(),
        service_type: f.service_type.clone(),
        roles: f.roles.clone(),
        range: f.range.clone(),
        max: f.max.or(max),
    })
}

/// The largest page each API serves: fewer round trips for a long walk.
fn big_page(kind: Kind) -> u32 {
    match kind {
        Kind::Admin => 200,
        Kind::Compliance | Kind::Security | Kind::Access => 1000,
        Kind::Connect => 2000,
    }
}

pub async fn list(api: &Api, filters: &FilterArgs, limit: u64, json: bool) -> anyhow::Result<()> {
    let kind = filters.kind.kind();
    let page = if limit > 0 { Some(u32::try_from(limit).unwrap_or(u32::MAX).min(big_page(kind))) } else { None };
    let query = query(api, filters, LIST_DEFAULT_DAYS, page).await?;
    let mut walker = Walker::new(api, query)?;
    let stdout = std::io::stdout();
    let table = !json && stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = table.then(|| Table::new(kind));
    let mut seen = 0u64;
    'pages: while let Some(page) = walker.next_page().await? {
        for raw in &page.items {
            if limit > 0 && seen >= limit {
                break 'pages;
            }
            seen += 1;
            match &mut printer {
                Some(t) => t.row(&mut out, raw)?,
                None => writeln!(out, "{}", compact(raw.get()))?,
            }
        }
        out.flush()?;
    }
    if let Some(t) = &mut printer {
        t.finish(&mut out)?;
    }
    out.flush()?;
    if table {
        let more =
            if limit > 0 && seen >= limit { format!(" (--limit {limit}; more may follow)") } else { String::new() };
        eprintln!("{seen} events{more}");
    }
    Ok(())
}

pub async fn export(api: &Api, args: &ExportArgs) -> anyhow::Result<()> {
    let kind = args.filters.kind.kind();
    let query = query(api, &args.filters, EXPORT_DEFAULT_DAYS, Some(big_page(kind))).await?;
    // Fail fast on a bad query before opening the output.
    Walker::new(api, query.clone())?;
    let (mut sink, partial) = Sink::open(args.out.as_deref())?;
    let bar = progress::bar(None, "exporting");
    let mut csv = (args.format == ExportFormat::Csv).then(|| Csv::new(kind));
    if let Some(csv) = &csv {
        csv.header(&mut sink)?;
    }
    // Fetching the next page overlaps with writing this one (the server works while we write);
    // at most two pages are held, so memory stays constant whatever the export's size.
    // The fetcher is its own task so that it keeps requesting while this one writes.
    let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel::<Page>(1);
    let fetch_api = api.clone();
    let fetch = tokio::spawn(async move {
        let mut walker = Walker::new(&fetch_api, query)?;
        while let Some(page) = walker.next_page().await? {
            if pages_tx.send(page).await.is_err() {
                break;
            }
        }
        anyhow::Ok(())
    });
    let fetch = async move { fetch.await.map_err(|e| anyhow::anyhow!("the page fetcher failed: {e}"))? };
    let write = async {
        let mut written = 0u64;
        let mut window_total: Option<(Option<Timestamp>, u64)> = None;
        'pages: while let Some(page) = pages_rx.recv().await {
            if let Some(total) = page.total
                && window_total.is_none_or(|(w, _)| w != page.window.from)
            {
                window_total = Some((page.window.from, total));
                bar.inc_length(total);
            }
            for raw in &page.items {
                if args.limit.is_some_and(|l| written >= l) {
                    break 'pages;
                }
                match &mut csv {
                    Some(csv) => csv.row(&mut sink, raw)?,
                    None => {
                        sink.write_all(compact(raw.get()).as_bytes())?;
                        sink.write_all(b"\n")?;
                    }
                }
                written += 1;
                bar.inc(1);
            }
        }
        // Stop the fetcher if the limit ended the export early.
        drop(pages_rx);
        anyhow::Ok(written)
    };
    let ((), written) = tokio::try_join!(fetch, write)?;
    bar.finish_and_clear();
    sink.flush()?;
    drop(sink);
    if let (Some(partial), Some(out)) = (partial, &args.out) {
        std::fs::rename(&partial, out)
            .with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    }
    let target = args.out.as_ref().map_or("stdout".to_owned(), |p| p.display().to_string());
    eprintln!("exported {written} {kind} events to {target}");
    Ok(())
}

/// stdout, or `FILE.partial` renamed to `FILE` once complete (a failed export never leaves a
/// file that looks whole).
struct Sink;

impl Sink {
    fn open(out: Option<&Path>) -> anyhow::Result<(Box<dyn Write>, Option<PathBuf>)> {
        match out {
            None => Ok((Box::new(std::io::BufWriter::new(std::io::stdout().lock())), None)),
            Some(path) => {
                let mut partial = path.as_os_str().to_owned();
                partial.push(".partial");
                let partial = PathBuf::from(partial);
                let file =
                    std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
                Ok((Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)), Some(partial)))
            }
        }
    }
}

/// A string at a JSON pointer, numbers and booleans as text, arrays of strings joined by `;`.
fn field(event: &Value, pointer: &str) -> String {
    match event.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>().join(";")
        }
        Some(other) => other.to_string(),
    }
}

/// The fixed CSV columns of each kind: `(header, JSON pointer)`.
fn csv_columns(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Admin => &[
            ("id", "/id"),
            ("created", "/created"),
            ("actorId", "/actorId"),
            ("actorEmail", "/data/actorEmail"),
            ("actorName", "/data/actorName"),
            ("actorIp", "/data/actorIp"),
            ("actorOrgId", "/actorOrgId"),
            ("eventCategory", "/data/eventCategory"),
            ("eventDescription", "/data/eventDescription"),
            ("actionText", "/data/actionText"),
            ("targetType", "/data/targetType"),
            ("targetId", "/data/targetId"),
            ("targetName", "/data/targetName"),
            ("adminRoles", "/data/adminRoles"),
            ("errorCode", "/data/errorCode"),
            ("errorMessage", "/data/errorMessage"),
        ],
        Kind::Compliance => &[
            ("id", "/id"),
            ("created", "/created"),
            ("resource", "/resource"),
            ("type", "/type"),
            ("actorId", "/actorId"),
            ("appId", "/appId"),
            ("orgId", "/orgId"),
            ("data", "/data"),
        ],
        Kind::Security => &[
            ("id", "/id"),
            ("created", "/created"),
            ("actorId", "/actorId"),
            ("actorEmail", "/data/actorEmail"),
            ("actorName", "/data/actorName"),
            ("actorIp", "/data/actorIp"),
            ("actorUserAgent", "/data/actorUserAgent"),
            ("actorOrgId", "/actorOrgId"),
            ("eventCategory", "/data/eventCategory"),
            ("eventDescription", "/data/eventDescription"),
            ("actionText", "/data/actionText"),
            ("trackingId", "/data/trackingId"),
        ],
        Kind::Access => &[
            ("id", "/id"),
            ("created", "/created"),
            ("actorId", "/actorId"),
            ("actorName", "/actorName"),
            ("actorEmail", "/actorEmail"),
            ("tokenId", "/tokenId"),
            ("actorIp", "/actorIp"),
            ("userAgent", "/userAgent"),
            ("method", "/method"),
            ("path", "/path"),
            ("query", "/query"),
            ("resultCount", "/resultCount"),
            ("trackingId", "/trackingId"),
            ("clientTrackingId", "/clientTrackingId"),
        ],
        Kind::Connect => &[
            ("id", "/id"),
            ("created", "/created"),
            ("actorEmail", "/actorEmail"),
            ("actorId", "/actorId"),
            ("actorIp", "/actorIp"),
            ("eventCategory", "/eventCategory"),
            ("statusOfAction", "/statusOfAction"),
            ("eventDescription", "/eventDescription"),
            ("actionText", "/actionText"),
            ("adminRoles", "/adminRoles"),
            ("serviceId", "/serviceId"),
            ("groupId", "/groupId"),
            ("transid", "/transid"),
        ],
    }
}

/// RFC 4180: quote a field holding a comma, quote or line break; double the quotes.
fn csv_field(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", raw.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

struct Csv {
    columns: &'static [(&'static str, &'static str)],
}

impl Csv {
    fn new(kind: Kind) -> Self {
        Csv { columns: csv_columns(kind) }
    }

    fn header(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        out.write_all(names.join(",").as_bytes())?;
        out.write_all(b"\r\n")
    }

    fn row(&mut self, out: &mut dyn Write, raw: &RawValue) -> anyhow::Result<()> {
        let event: Value = serde_json::from_str(raw.get()).context("the server sent an event that is not JSON")?;
        let cells: Vec<String> =
            self.columns.iter().map(|(_, pointer)| csv_field(&field(&event, pointer)).into_owned()).collect();
        out.write_all(cells.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(())
    }
}

/// The readable columns of each kind: `(header, JSON pointers tried in order, max width)`; the last
/// column takes the rest of the line.
type TableColumn = (&'static str, &'static [&'static str], usize);

fn table_columns(kind: Kind) -> &'static [TableColumn] {
    match kind {
        Kind::Admin => &[
            ("CREATED", &["/created"], 24),
            ("CATEGORY", &["/data/eventCategory"], 16),
            ("ACTOR", &["/data/actorEmail", "/data/actorName", "/actorId"], 32),
            ("ACTION", &["/data/actionText", "/data/eventDescription"], 0),
        ],
        Kind::Compliance => &[
            ("CREATED", &["/created"], 24),
            ("RESOURCE", &["/resource"], 19),
            ("TYPE", &["/type"], 7),
            ("ACTOR", &["/data/personEmail", "/data/host/email", "/data/ownerEmail", "/actorId"], 32),
            ("ID", &["/id"], 0),
        ],
        Kind::Security => &[
            ("CREATED", &["/created"], 24),
            ("CATEGORY", &["/data/eventCategory"], 8),
            ("ACTOR", &["/data/actorEmail", "/data/actorName", "/actorId"], 32),
            ("IP", &["/data/actorIp"], 15),
            ("ACTION", &["/data/actionText", "/data/eventDescription"], 0),
        ],
        Kind::Access => &[
            ("CREATED", &["/created"], 24),
            ("READER", &["/actorEmail", "/actorName", "/actorId"], 32),
            ("RESULTS", &["/resultCount"], 7),
            ("PATH", &["/path"], 40),
            ("QUERY", &["/query"], 0),
        ],
        Kind::Connect => &[
            ("CREATED", &["/created"], 24),
            ("STATUS", &["/statusOfAction"], 7),
            ("ACTOR", &["/actorEmail", "/actorId"], 32),
            ("EVENT", &["/eventDescription"], 24),
            ("ACTION", &["/actionText"], 0),
        ],
    }
}

/// An aligned table printed as pages arrive: widths come from the first page (capped), later
/// cells are cut to fit, the last column is cut at the terminal's width.
struct Table {
    columns: &'static [TableColumn],
    widths: Option<Vec<usize>>,
    pending: Vec<Vec<String>>,
    width: usize,
}

impl Table {
    fn new(kind: Kind) -> Self {
        let width = console::Term::stdout().size_checked().map_or(160, |(_, cols)| usize::from(cols));
        Table { columns: table_columns(kind), widths: None, pending: Vec::new(), width }
    }

    fn row(&mut self, out: &mut dyn Write, raw: &RawValue) -> anyhow::Result<()> {
        let event: Value = serde_json::from_str(raw.get()).context("the server sent an event that is not JSON")?;
        let cells = self
            .columns
            .iter()
            .map(|(_, pointers, _)| {
                pointers
                    .iter()
                    .map(|p| field(&event, p))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default()
                    .replace(['\n', '\r', '\t'], " ")
            })
            .collect();
        self.pending.push(cells);
        if self.pending.len() >= 50 {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.widths.is_none() {
            let widths: Vec<usize> = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, _, max))| {
                    let longest = self.pending.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
                    let w = longest.max(name.len());
                    if *max > 0 { w.min(*max) } else { w }
                })
                .collect();
            let header: Vec<String> = self.columns.iter().map(|(n, _, _)| (*n).to_owned()).collect();
            self.widths = Some(widths);
            self.line(out, &header)?;
        }
        for row in std::mem::take(&mut self.pending) {
            self.line(out, &row)?;
        }
        Ok(())
    }

    fn line(&self, out: &mut dyn Write, cells: &[String]) -> std::io::Result<()> {
        let widths = self.widths.as_deref().unwrap_or(&[]);
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let last = i + 1 == cells.len();
            if last {
                let room = self.width.saturating_sub(line.chars().count()).max(10);
                line.push_str(&cut(cell, room));
            } else {
                let w = widths.get(i).copied().unwrap_or(10);
                let text = cut(cell, w);
                let pad = w.saturating_sub(text.chars().count());
                line.push_str(&text);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())
    }

    fn finish(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if !self.pending.is_empty() || self.widths.is_none() {
            self.flush(out)?;
        }
        Ok(())
    }
}

/// At most `width` characters, an ellipsis marking a cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_fields() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        let e: Value = serde_json::json!({"adminRoles": ["Owner", "Admin"], "n": 5, "d": {"x": "y"}});
        assert_eq!(field(&e, "/adminRoles"), "Owner;Admin");
        assert_eq!(field(&e, "/n"), "5");
        assert_eq!(field(&e, "/d"), r#"{"x":"y"}"#);
        assert_eq!(field(&e, "/missing"), "");
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
