//! `auditrail events list` and `auditrail export`: read a server's events through its public
//! read APIs (the same ones Webex clients use), oldest first.
//!
//! `events list` is for people: an aligned table when stdout is a terminal, otherwise (or with
//! `--json`) NDJSON so it pipes into `jq`. `export` is for machines and archives: it follows
//! every page to the end at constant memory, writes each event's wire JSON verbatim (NDJSON) or
//! a fixed column set (CSV), and replaces `--out FILE` only once the export is complete.
//!
//! Event content is whatever the server (or whoever wrote the events) chose, so it is treated
//! as hostile on the way out: CSV cells that a spreadsheet would run as formulas are defused,
//! and nothing printed on a terminal carries raw control characters (escape sequences).

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, bail};
use auditrail_core::{Kind, Timestamp};
use serde_json::Value;
use serde_json::value::RawValue;

use auditrail_client::pages::{DAY_MS, Page, Query, Walker, compact};
use auditrail_client::{Api, ExportStream, open_export, printable};

use crate::cli::{ExportArgs, ExportFormat, FilterArgs};
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
    if let Some(q) = &f.q {
        if f.range.is_some() {
            bail!("--q cannot be combined with --range: the search takes --from and --to");
        }
        auditrail_core::SearchText::parse(q, "--q")?;
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
    // Only the admin and security listings need the org; a search reads the export.
    let org = if matches!(kind, Kind::Admin | Kind::Security) && f.q.is_none() {
        let Some(org) = api.token_org().await.context("cannot find the token's organization")? else {
            bail!("/v1/people/me did not name an orgId");
        };
        Some(org)
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
        text: f.q.clone(),
        max: f.max.or(max),
    })
}

/// The largest page each API serves: fewer round trips for a long walk.
fn big_page(kind: Kind) -> u32 {
    match kind {
        Kind::Admin => 200,
        Kind::Compliance | Kind::Security | Kind::Access | Kind::System => 1000,
        Kind::Connect => 2000,
    }
}

pub async fn list(api: &Api, filters: &FilterArgs, limit: u64, json: bool) -> anyhow::Result<()> {
    let kind = filters.kind.kind();
    let page = if limit > 0 { Some(u32::try_from(limit).unwrap_or(u32::MAX).min(big_page(kind))) } else { None };
    let query = query(api, filters, LIST_DEFAULT_DAYS, page).await?;
    let mut source = match query.text {
        Some(_) => Source::Search(open_export(api, &query).await?.context("the server has no export endpoint")?),
        None => Source::Pages(Box::new(Walker::new(api, query)?)),
    };
    let stdout = std::io::stdout();
    let stdout_tty = stdout.is_terminal();
    let table = !json && stdout_tty;
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = table.then(|| Table::new(kind));
    let mut seen = 0u64;
    'pages: while let Some(items) = source.next().await? {
        for raw in &items {
            if limit > 0 && seen >= limit {
                break 'pages;
            }
            seen += 1;
            match &mut printer {
                Some(t) => t.row(&mut out, raw)?,
                None if json && stdout_tty => writeln!(out, "{}", terminal_json(&compact(raw.get())))?,
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

/// Where `events list` reads: the listings page by page, or a search's export stream.
enum Source<'a> {
    Pages(Box<Walker<'a>>),
    Search(ExportStream),
}

impl Source<'_> {
    async fn next(&mut self) -> anyhow::Result<Option<Vec<Box<RawValue>>>> {
        match self {
            Source::Pages(walker) => Ok(walker.next_page().await?.map(|page| page.items)),
            Source::Search(stream) => stream.next_events().await,
        }
    }
}

pub async fn export(api: &Api, args: &ExportArgs) -> anyhow::Result<()> {
    let kind = args.filters.kind.kind();
    let query = query(api, &args.filters, EXPORT_DEFAULT_DAYS, Some(big_page(kind))).await?;
    // Fail fast on a bad query before opening the output (a search is checked when it opens).
    if query.text.is_none() {
        Walker::new(api, query.clone())?;
    }
    let mut sink = Sink::open(args.out.as_deref())?;
    // Only what lands on a terminal is escaped; files and pipes get the data unchanged.
    let terminal = args.out.is_none() && std::io::stdout().is_terminal();
    let bar = progress::bar(None, "exporting");
    let csv = (args.format == ExportFormat::Csv).then(|| Csv::new(kind, terminal));
    if let Some(csv) = &csv {
        csv.header(&mut sink)?;
    }
    let mut writer = EventWriter { csv, terminal };
    if let Some(written) = export_streamed(api, args.limit, &query, &mut sink, &mut writer, &bar).await? {
        return finish_export(bar, sink, args, kind, written);
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
                writer.write(&mut sink, raw)?;
                written += 1;
                bar.inc(1);
            }
        }
        // Stop the fetcher if the limit ended the export early.
        drop(pages_rx);
        anyhow::Ok(written)
    };
    let ((), written) = tokio::try_join!(fetch, write)?;
    finish_export(bar, sink, args, kind, written)
}

/// How an export writes one event: a CSV row, or its JSON on one line (escaped when it lands on a
/// terminal).
struct EventWriter {
    csv: Option<Csv>,
    terminal: bool,
}

impl EventWriter {
    fn write(&mut self, sink: &mut Sink, raw: &RawValue) -> anyhow::Result<()> {
        match &mut self.csv {
            Some(csv) => csv.row(sink, raw),
            None => {
                let line = compact(raw.get());
                let line = if self.terminal { terminal_json(&line).into_owned().into() } else { line };
                sink.write_all(line.as_bytes())?;
                sink.write_all(b"\n")?;
                Ok(())
            }
        }
    }
}

fn finish_export(
    bar: indicatif::ProgressBar,
    sink: Sink,
    args: &ExportArgs,
    kind: Kind,
    written: u64,
) -> anyhow::Result<()> {
    bar.finish_and_clear();
    sink.finish()?;
    let target = args.out.as_ref().map_or("stdout".to_owned(), |p| p.display().to_string());
    eprintln!("exported {written} {kind} events to {target}");
    Ok(())
}

/// The whole export as one streamed response (see [`open_export`]); `None` when the server has
/// no such endpoint or a filter needs the Webex-shaped listings, which are then paged.
async fn export_streamed(
    api: &Api,
    limit: Option<u64>,
    query: &Query,
    sink: &mut Sink,
    writer: &mut EventWriter,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Option<u64>> {
    let Some(mut stream) = open_export(api, query).await? else { return Ok(None) };
    let mut pending: Vec<u8> = Vec::new();
    let mut written = 0u64;
    let raw_copy = writer.csv.is_none() && !writer.terminal && limit.is_none();
    let mut ends_on_a_line = true;
    'stream: while let Some(chunk) =
        stream.chunk().await.context("the export stream broke off before its end; nothing was written")?
    {
        // NDJSON to a file or pipe, no limit: the server's lines are written as they come; only
        // counted (JSON already escapes every control character but DEL and C1, which only a
        // terminal must not see).
        if raw_copy {
            if let Some(last) = chunk.last() {
                ends_on_a_line = *last == b'\n';
            }
            written += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            sink.write_all(&chunk)?;
            bar.set_position(written);
            continue;
        }
        pending.extend_from_slice(&chunk);
        // Only whole lines: a chunk may end in the middle of an event.
        let Some(end) = pending.iter().rposition(|b| *b == b'\n') else { continue };
        let lines: Vec<u8> = pending.drain(..=end).collect();
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if limit.is_some_and(|l| written >= l) {
                break 'stream;
            }
            let line = std::str::from_utf8(line).context("the server sent an event that is not UTF-8")?;
            let raw: &RawValue = serde_json::from_str(line).context("the server sent an event that is not JSON")?;
            writer.write(sink, raw)?;
            written += 1;
        }
        bar.set_position(written);
    }
    if !ends_on_a_line || (!pending.is_empty() && limit.is_none_or(|l| written < l)) {
        bail!("the export stream ended in the middle of an event; nothing was written");
    }
    Ok(Some(written))
}

/// stdout, or a temporary file renamed to `FILE` once complete (a failed export never leaves a
/// file that looks whole).
///
/// The temporary file gets a fresh random name in `FILE`'s directory (the rename must not cross
/// file systems) and is created with O_EXCL and mode 0600: a fixed name such as `FILE.partial`
/// could be planted beforehand as a symlink, and opening it would overwrite the link's target
/// with the export. It is removed if the export fails.
enum Sink {
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
    File { file: std::io::BufWriter<tempfile::NamedTempFile>, out: std::path::PathBuf },
}

impl Sink {
    fn open(out: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(path) = out else { return Ok(Sink::Stdout(std::io::BufWriter::new(std::io::stdout().lock()))) };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let file = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {} for --out", dir.display()))?;
        Ok(Sink::File { file: std::io::BufWriter::with_capacity(256 * 1024, file), out: path.to_owned() })
    }

    /// Flushes; for a file, syncs it and renames it over `FILE`.
    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(mut w) => Ok(w.flush()?),
            Sink::File { file, out } => {
                let file = file.into_inner().map_err(|e| e.into_error()).context("cannot write the export")?;
                // Durable before it takes FILE's name: a crash must not leave a truncated FILE.
                file.as_file().sync_all().context("cannot write the export")?;
                let temp = file.path().to_owned();
                file.persist(&out)
                    .map_err(|e| e.error)
                    .with_context(|| format!("cannot move {} to {}", temp.display(), out.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File { file, .. } => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.write_all(buf),
            Sink::File { file, .. } => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File { file, .. } => file.flush(),
        }
    }
}

/// JSON text for a terminal: serde_json (and the JSON grammar) leave DEL and the C1 controls
/// raw inside strings, and terminals act on C1 (U+009B is a one-character CSI). Written as
/// `\u007f`/`\u009b` escapes instead, the line is still valid JSON with the same values. C0
/// controls cannot occur raw: JSON requires them escaped and the page parser enforces it.
fn terminal_json(json: &str) -> Cow<'_, str> {
    let is_unsafe = |c: char| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c);
    if !json.contains(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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

/// A CSV column: `(header, JSON pointer)`.
type CsvColumn = (&'static str, &'static str);

/// Who did it, in admin and security audit events alike (security audit has admin audit's shape).
const AUDIT_ACTOR: &[CsvColumn] = &[
    ("id", "/id"),
    ("created", "/created"),
    ("actorId", "/actorId"),
    ("actorEmail", "/data/actorEmail"),
    ("actorName", "/data/actorName"),
    ("actorIp", "/data/actorIp"),
];

/// What was done, in admin and security audit events alike.
const AUDIT_ACTION: &[CsvColumn] = &[
    ("eventCategory", "/data/eventCategory"),
    ("eventDescription", "/data/eventDescription"),
    ("actionText", "/data/actionText"),
];

/// The fixed CSV columns of each kind.
fn csv_columns(kind: Kind) -> Vec<CsvColumn> {
    match kind {
        Kind::Admin => [
            AUDIT_ACTOR,
            &[("actorOrgId", "/actorOrgId")],
            AUDIT_ACTION,
            &[
                ("targetType", "/data/targetType"),
                ("targetId", "/data/targetId"),
                ("targetName", "/data/targetName"),
                ("adminRoles", "/data/adminRoles"),
                ("errorCode", "/data/errorCode"),
                ("errorMessage", "/data/errorMessage"),
            ],
        ]
        .concat(),
        Kind::Security => [
            AUDIT_ACTOR,
            &[("actorUserAgent", "/data/actorUserAgent"), ("actorOrgId", "/actorOrgId")],
            AUDIT_ACTION,
            &[("trackingId", "/data/trackingId")],
        ]
        .concat(),
        Kind::Compliance => vec![
            ("id", "/id"),
            ("created", "/created"),
            ("resource", "/resource"),
            ("type", "/type"),
            ("actorId", "/actorId"),
            ("appId", "/appId"),
            ("orgId", "/orgId"),
            ("data", "/data"),
        ],
        Kind::System => vec![("id", "/id"), ("created", "/created"), ("actorId", "/actorId"), ("data", "/data")],
        Kind::Access => vec![
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
        Kind::Connect => vec![
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

/// Spreadsheets run a cell starting with one of these as a formula (tab and CR included: some
/// strip them first), so event text such as `=HYPERLINK(…)` could act when the export is opened.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell: a leading formula character is defused with a `'` (OWASP's advice for CSV
/// injection; spreadsheets show the cell as text), then RFC 4180 quoting for a cell holding a
/// comma, quote or line break, quotes doubled.
fn csv_field(raw: &str) -> Cow<'_, str> {
    let cell = if raw.starts_with(FORMULA_STARTS) { Cow::Owned(format!("'{raw}")) } else { Cow::Borrowed(raw) };
    if cell.contains([',', '"', '\n', '\r']) { Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\""))) } else { cell }
}

struct Csv {
    columns: Vec<CsvColumn>,
    /// Writing to a terminal: control characters are shown escaped instead of sent raw.
    terminal: bool,
}

impl Csv {
    fn new(kind: Kind, terminal: bool) -> Self {
        Csv { columns: csv_columns(kind), terminal }
    }

    fn header(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        out.write_all(names.join(",").as_bytes())?;
        out.write_all(b"\r\n")
    }

    fn row(&mut self, out: &mut dyn Write, raw: &RawValue) -> anyhow::Result<()> {
        let event: Value = serde_json::from_str(raw.get()).context("the server sent an event that is not JSON")?;
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|(_, pointer)| {
                let cell = csv_field(&field(&event, pointer)).into_owned();
                if self.terminal { printable(&cell).into_owned() } else { cell }
            })
            .collect();
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
        Kind::System => &[("CREATED", &["/created"], 24), ("ACTOR", &["/actorId"], 12), ("DATA", &["/data"], 0)],
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
                let text = pointers.iter().map(|p| field(&event, p)).find(|v| !v.is_empty()).unwrap_or_default();
                table_cell(&text)
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

/// A table cell: line breaks and tabs become spaces (a row stays one line), every other control
/// character is shown escaped (see [`printable`]) so event content cannot drive the terminal.
fn table_cell(text: &str) -> String {
    printable(&text.replace(['\n', '\r', '\t'], " ")).into_owned()
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
    fn csv_headers_of_the_audit_kinds_as_documented() {
        let header = |kind| csv_columns(kind).iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
        assert_eq!(
            header(Kind::Admin),
            "id, created, actorId, actorEmail, actorName, actorIp, actorOrgId, eventCategory, eventDescription, \
             actionText, targetType, targetId, targetName, adminRoles, errorCode, errorMessage"
        );
        assert_eq!(
            header(Kind::Security),
            "id, created, actorId, actorEmail, actorName, actorIp, actorUserAgent, actorOrgId, eventCategory, \
             eventDescription, actionText, trackingId"
        );
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_defused() {
        for c in ['=', '+', '-', '@', '\t', '\r'] {
            let raw = format!("{c}SUM(A1:A9)");
            let cell = csv_field(&raw);
            let unquoted = cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(&cell);
            assert_eq!(unquoted, format!("'{raw}"), "{c:?}");
        }
        // Quoting still applies after the prefix, and the prefix sits inside the quotes.
        assert_eq!(csv_field("=1,\"2\""), "\"'=1,\"\"2\"\"\"");
        assert_eq!(csv_field("\r\nx"), "\"'\r\nx\"");
        // Only the first character matters.
        assert_eq!(csv_field("a=b"), "a=b");
        assert_eq!(csv_field(" =1"), " =1");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn table_cells_show_control_characters_escaped() {
        assert_eq!(table_cell("plain ünïcode ✓"), "plain ünïcode ✓");
        assert_eq!(table_cell("a\nb\tc\rd"), "a b c d");
        assert_eq!(table_cell("\u{1b}[31mred\u{1b}]0;title\u{7}"), "\\x1b[31mred\\x1b]0;title\\x07");
        assert_eq!(table_cell("\u{0}\u{8}\u{7f}"), "\\x00\\x08\\x7f");
        assert_eq!(table_cell("\u{9b}2J\u{80}\u{9f}\u{a0}"), "\\u{9b}2J\\u{80}\\u{9f}\u{a0}");
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            assert!(!table_cell(&format!("x{c}y")).contains(c), "{c:?} printed raw");
        }
    }

    #[test]
    fn json_for_a_terminal_escapes_del_and_c1_and_keeps_the_value() {
        let event = serde_json::json!({"a": "x\u{7f}y\u{9b}2J\u{85}", "b": "é\u{a0}", "c": "\u{1b}"});
        let text = serde_json::to_string(&event).unwrap();
        let safe = terminal_json(&text);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        assert!(safe.contains(r"x\u007fy\u009b2J\u0085"), "{safe}");
        assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), event);
        let plain = r#"{"a":"b"}"#;
        assert!(matches!(terminal_json(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
