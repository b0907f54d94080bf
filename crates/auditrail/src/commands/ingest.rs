//! `auditrail ingest FILE --kind K`: send a file of events to `POST /auditrail/v1/ingest/{kind}`.
//!
//! The file is NDJSON, a JSON array, or `{"items": [...]}`, read as a stream on a thread of its
//! own (a multi-gigabyte export does not have to fit in memory) and sent in batches of at most
//! 1 000 items, each item's text exactly as in the file. Items are not checked here: the server is
//! the one authority on what it accepts, and its message, mapped back to the file's line, is what
//! the user sees when it refuses a batch.
//!
//! Re-running is safe because the server deduplicates by `id`; the summary reports accepted vs
//! duplicates. For the same reason a batch whose items all carry ids is retried after any
//! transient failure, while a batch with id-less items is only retried when it certainly was not
//! received (otherwise a retry could store those items twice).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use auditrail_client::pages::id_of;
use auditrail_client::{Api, HttpError, Retry};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::cli::IngestArgs;
use crate::progress;

/// One item of the file: its JSON text and where it was.
struct Item {
    text: String,
    /// 1-based line (NDJSON) or element number (JSON array).
    position: u64,
    has_id: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    NdJson,
    Array,
    Wrapped,
}

struct Batch {
    items: Vec<Item>,
}

pub async fn run(api: &Api, args: &IngestArgs) -> anyhow::Result<()> {
    let kind = args.kind.kind();
    let batch_size = args.batch as usize;
    let (format, reader) = open(&args.file)?;
    let name = if args.file.as_os_str() == "-" { "stdin".to_owned() } else { args.file.display().to_string() };
    let (tx, mut rx) = mpsc::channel::<anyhow::Result<Batch>>(2);
    let reader_thread = std::thread::Builder::new()
        .name("ingest-reader".to_owned())
        .spawn(move || read_items(reader, format, batch_size, &tx))
        .context("cannot start the file reader")?;
    let bar = progress::bar(None, "ingesting");
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    while let Some(batch) = rx.recv().await {
        let batch = batch.with_context(|| format!("cannot read {name}"))?;
        let (content_type, body) = body(&batch, format);
        let retry = if batch.items.iter().all(|i| i.has_id) { Retry::Always } else { Retry::IfNotSent };
        let receipt = match api.ingest(kind, content_type, body, retry).await {
            Ok(receipt) => receipt,
            Err(e) => {
                bar.finish_and_clear();
                return Err(refused(e, &batch, format, &name, accepted, duplicates));
            }
        };
        accepted += receipt.accepted;
        duplicates += receipt.duplicates;
        bar.inc(batch.items.len() as u64);
    }
    bar.finish_and_clear();
    // The reader has sent everything (or its error) before closing the channel.
    let _ = reader_thread.join();
    eprintln!("ingested {} {kind} events from {name}: {accepted} new, {duplicates} duplicates", accepted + duplicates);
    Ok(())
}

fn body(batch: &Batch, format: Format) -> (&'static str, Vec<u8>) {
    let size = batch.items.iter().map(|i| i.text.len() + 1).sum::<usize>() + 2;
    let mut body = Vec::with_capacity(size);
    match format {
        Format::NdJson => {
            for item in &batch.items {
                body.extend_from_slice(item.text.as_bytes());
                body.push(b'\n');
            }
            ("application/x-ndjson", body)
        }
        Format::Array | Format::Wrapped => {
            body.push(b'[');
            for (i, item) in batch.items.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(item.text.as_bytes());
            }
            body.push(b']');
            ("application/json", body)
        }
    }
}

/// The server's refusal as one line, with its `items[N]` mapped to the file position.
fn refused(e: anyhow::Error, batch: &Batch, format: Format, name: &str, accepted: u64, dups: u64) -> anyhow::Error {
    let done = if accepted + dups > 0 {
        format!(" ({} earlier events were stored or already present)", accepted + dups)
    } else {
        String::new()
    };
    let Some(http) = e.downcast_ref::<HttpError>() else { return anyhow!("{e:#}{done}") };
    let unit = if format == Format::NdJson { "line" } else { "element" };
    let mut message = http.to_string();
    if let Some(index) = first_item_index(&http.message)
        && let Some(item) = batch.items.get(index)
    {
        message.push_str(&format!(" (items[{index}] is {unit} {} of {name})", item.position));
    } else if let (Some(first), Some(last)) = (batch.items.first(), batch.items.last()) {
        message.push_str(&format!(" (batch of {unit}s {}–{} of {name})", first.position, last.position));
    }
    anyhow!("{message}{done}")
}

/// N of the first `items[N]` in a server message.
fn first_item_index(message: &str) -> Option<usize> {
    let start = message.find("items[")? + "items[".len();
    let end = message[start..].find(']')? + start;
    message[start..end].parse().ok()
}

/// Opens the file (or stdin) and decides its format from its first line: `[` starts an array;
/// a line that is only `{` or starts with `{"items"` starts a wrapper; anything else is NDJSON.
fn open(path: &Path) -> anyhow::Result<(Format, Box<dyn BufRead + Send>)> {
    let reader: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let peek = peek_line(&mut reader).with_context(|| format!("cannot read {}", display(path)))?;
    let squeezed: String = peek.chars().filter(|c| !c.is_whitespace()).collect();
    let squeezed = squeezed.trim_start_matches('\u{feff}');
    let format = if squeezed.starts_with('[') {
        Format::Array
    } else if squeezed == "{" || squeezed.starts_with("{\"items\"") {
        Format::Wrapped
    } else if squeezed.is_empty() {
        bail!("{} is empty: nothing to ingest", display(path));
    } else {
        Format::NdJson
    };
    Ok((format, Box::new(reader)))
}

fn display(path: &Path) -> String {
    if path.as_os_str() == "-" { "stdin".to_owned() } else { path.display().to_string() }
}

/// The first non-blank line (at most 64 KiB of it), without consuming anything.
fn peek_line(reader: &mut BufReader<Box<dyn Read + Send>>) -> std::io::Result<String> {
    let buf = reader.fill_buf()?;
    let text = String::from_utf8_lossy(&buf[..buf.len().min(64 * 1024)]);
    Ok(text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_owned())
}

/// Reads items and sends them in batches; an I/O or JSON error ends the stream with that error.
fn read_items(reader: Box<dyn BufRead + Send>, format: Format, size: usize, tx: &mpsc::Sender<anyhow::Result<Batch>>) {
    let mut sink = BatchSink { tx, size, pending: Vec::with_capacity(size), closed: false };
    let result = match format {
        Format::NdJson => read_ndjson(reader, &mut sink),
        Format::Array => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            ArraySeed { sink: &mut sink, counter: 0 }.deserialize(&mut de).and_then(|()| de.end()).map_err(json_error)
        }
        Format::Wrapped => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            WrapperSeed { sink: &mut sink }.deserialize(&mut de).and_then(|()| de.end()).map_err(json_error)
        }
    };
    match result {
        Ok(()) => sink.flush(),
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
        }
    }
}

fn json_error(e: serde_json::Error) -> anyhow::Error {
    anyhow!("invalid JSON at line {} column {}: {e}", e.line(), e.column())
}

struct BatchSink<'a> {
    tx: &'a mpsc::Sender<anyhow::Result<Batch>>,
    size: usize,
    pending: Vec<Item>,
    /// The receiver is gone (the upload failed): stop reading.
    closed: bool,
}

impl BatchSink<'_> {
    fn push(&mut self, item: Item) {
        self.pending.push(item);
        if self.pending.len() >= self.size {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() || self.closed {
            return;
        }
        let items = std::mem::replace(&mut self.pending, Vec::with_capacity(self.size));
        if self.tx.blocking_send(Ok(Batch { items })).is_err() {
            self.closed = true;
        }
    }
}

fn read_ndjson(mut reader: Box<dyn BufRead + Send>, sink: &mut BatchSink<'_>) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line).context("read failed")? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']).trim_start_matches('\u{feff}');
        if text.trim().is_empty() {
            continue;
        }
        let has_id = id_of(text).is_some();
        sink.push(Item { text: text.to_owned(), position: number, has_id });
        if sink.closed {
            return Ok(());
        }
    }
}

/// Streams the elements of a JSON array into the sink without holding the array.
struct ArraySeed<'s, 'a> {
    sink: &'s mut BatchSink<'a>,
    counter: u64,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            self.counter += 1;
            if self.sink.closed {
                continue;
            }
            let text = raw.get().to_owned();
            let has_id = id_of(&text).is_some();
            self.sink.push(Item { text, position: self.counter, has_id });
        }
        Ok(())
    }
}

/// `{"items": [...]}`: streams `items`, ignores other keys.
struct WrapperSeed<'s, 'a> {
    sink: &'s mut BatchSink<'a>,
}

impl<'de> DeserializeSeed<'de> for WrapperSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for WrapperSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object {\"items\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && !found {
                found = true;
                map.next_value_seed(ArraySeed { sink: &mut *self.sink, counter: 0 })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !found {
            return Err(serde::de::Error::custom("the object has no \"items\" array"));
        }
        Ok(())
    }
}

/// For tests and callers that have a path: which format would be detected.
#[cfg(test)]
fn detect(text: &str) -> anyhow::Result<Format> {
    let dir = tempfile_dir();
    let path: PathBuf = dir.join(format!("detect-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, text)?;
    let result = open(&path).map(|(f, _)| f);
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
fn tempfile_dir() -> PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> (Vec<(String, u64, bool)>, Option<String>) {
        let path = tempfile_dir().join(format!("items-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        let (format, reader) = open(&path).unwrap();
        let (tx, mut rx) = mpsc::channel(1000);
        read_items(reader, format, 2, &tx);
        drop(tx);
        let _ = std::fs::remove_file(&path);
        let mut items = Vec::new();
        let mut error = None;
        while let Ok(batch) = rx.try_recv() {
            match batch {
                Ok(b) => {
                    assert!(b.items.len() <= 2);
                    items.extend(b.items.into_iter().map(|i| (i.text, i.position, i.has_id)));
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
        (items, error)
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        assert_eq!(detect("{\"id\":\"a\"}\n{\"id\":\"b\"}\n").unwrap(), Format::NdJson);
        assert_eq!(detect("\n  [ {\"id\":\"a\"} ]").unwrap(), Format::Array);
        assert_eq!(detect("{\n \"items\": []\n}").unwrap(), Format::Wrapped);
        assert_eq!(detect("{\"items\": [{\"id\": 1}]}").unwrap(), Format::Wrapped);
        assert_eq!(detect("not json at all\n").unwrap(), Format::NdJson);
        assert!(detect("  \n ").is_err());
    }

    #[test]
    fn items_keep_their_text_and_position() {
        let (items, err) = collect("{\"id\":\"a\"}\n\n{\"x\": 1}\nbad line\n");
        assert!(err.is_none());
        assert_eq!(
            items,
            vec![
                ("{\"id\":\"a\"}".to_owned(), 1, true),
                ("{\"x\": 1}".to_owned(), 3, false),
                ("bad line".to_owned(), 4, false)
            ]
        );
        let (items, err) = collect("[{\"id\": \"a\",\n \"n\": [1, 2]}, {\"id\":\"b\"}, {\"c\":3}]");
        assert!(err.is_none());
        assert_eq!(
            items.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(),
            ["{\"id\": \"a\",\n \"n\": [1, 2]}", "{\"id\":\"b\"}", "{\"c\":3}"]
        );
        assert_eq!(items.iter().map(|i| i.1).collect::<Vec<_>>(), [1, 2, 3]);
        let (items, err) = collect("{\"next\": 1, \"items\": [{\"id\":\"a\"}]}");
        assert!(err.is_none());
        assert_eq!(items.len(), 1);
        let (_, err) = collect("[{\"id\":\"a\"}, oops]");
        assert!(err.unwrap().contains("invalid JSON at line 1"));
    }

    #[test]
    fn item_indexes_in_server_messages() {
        assert_eq!(
            first_item_index("The batch was refused: 1 invalid item(s), e.g. items[3].actorId: is required"),
            Some(3)
        );
        assert_eq!(first_item_index("nothing here"), None);
    }
}
