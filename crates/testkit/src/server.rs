//! Real `auditrail` processes for tests and the benchmark harness.
//!
//! [`Serve`] starts `auditrail serve` with the given arguments and environment on a free loopback
//! port (`--listen 127.0.0.1:0`): the process binds the port itself, so no other process can
//! take it between a probe and the bind. It is ready once its log says where it listens (the
//! listener is bound then, and the store was opened before it). [`ServerProcess`] then gives its
//! base URL, address, pid and what it wrote, and stops it: SIGTERM and a bounded wait (SIGKILL
//! after it), or SIGKILL at once for crash tests. Dropping it stops it the same way.
//!
//! Every command gets a clean environment: no `AUDITRAIL_*` variable of the developer's shell
//! reaches it, only what the caller sets.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What `serve` logs once its listener is bound (`commands/serve.rs`).
const LISTENING: &str = "auditrail listening";
/// How much of a process's output is kept; the rest is read and dropped, so a long benchmark
/// run with a log line per request neither blocks on a full pipe nor grows without bound.
const MAX_OUTPUT: usize = 16 << 20;

/// `bin` with `args`, stdin closed, and no `AUDITRAIL_*` variable inherited.
pub fn auditrail_command(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    clean(&mut cmd);
    cmd
}

fn clean(cmd: &mut Command) {
    cmd.stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AUDITRAIL_") {
            cmd.env_remove(&key);
        }
    }
}

/// How to start one `auditrail serve`.
#[derive(Debug, Clone)]
pub struct Serve {
    bin: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    wrapper: Vec<OsString>,
    ready_within: Duration,
    stop_within: Duration,
}

impl Serve {
    /// `bin serve`, ready within 60 s, given 10 s to exit after SIGTERM.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Serve {
            bin: bin.into(),
            args: Vec::new(),
            env: Vec::new(),
            wrapper: Vec::new(),
            ready_within: Duration::from_secs(60),
            stop_within: Duration::from_secs(10),
        }
    }

    /// More arguments of `serve` (store, flags). Without a `--listen` of their own, the server
    /// listens on a free loopback port.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable of the process. `AUDITRAIL_LOG` must keep `serve`'s info line
    /// that says where it listens: that line is how readiness is seen.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the server under another program (`strace -f -o FILE`, say), which must run the
    /// command at the end of its arguments as its child and let it write to its stderr. Signals
    /// then go to that child, the server; the wrapper is waited for.
    pub fn wrapped<I, S>(mut self, program_and_args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper = program_and_args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// How long the server may take to listen (opening a large store takes a while).
    pub fn ready_within(mut self, timeout: Duration) -> Self {
        self.ready_within = timeout;
        self
    }

    /// How long [`ServerProcess::stop`] waits after SIGTERM before SIGKILL.
    pub fn stop_within(mut self, timeout: Duration) -> Self {
        self.stop_within = timeout;
        self
    }

    /// Starts the process and waits until it listens; an error (with what it wrote) when it
    /// exits first or does not listen in time.
    pub fn start(self) -> Result<ServerProcess, String> {
        let mut cmd = match self.wrapper.split_first() {
            None => Command::new(&self.bin),
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(&self.bin);
                cmd
            }
        };
        clean(&mut cmd);
        cmd.arg("serve").args(&self.args);
        if !self.args.iter().any(|a| a == "--listen" || a.to_string_lossy().starts_with("--listen=")) {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {} serve: {e}", self.bin.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (listening_tx, listening_rx) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(read_output(Stream::Out(stdout), output.clone(), None));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(read_output(Stream::Err(stderr), output.clone(), Some(listening_tx)));
        }
        let mut server = ServerProcess {
            pid: child.id(),
            child,
            wrapped: !self.wrapper.is_empty(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            base: String::new(),
            output,
            readers,
            status: None,
            stop_within: self.stop_within,
        };
        match listening_rx.recv_timeout(self.ready_within) {
            Ok((scheme, addr)) => {
                server.addr = addr;
                server.base = format!("{scheme}://{addr}");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = server.stop();
                return Err(format!(
                    "serve did not listen within {:?}; it wrote:\n{}",
                    self.ready_within,
                    server.output()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = server.wait(Duration::from_secs(10));
                let _ = server.stop();
                return Err(format!("serve exited ({status:?}) before it listened; it wrote:\n{}", server.output()));
            }
        }
        if server.wrapped {
            server.pid = wrapped_child(server.child.id())?;
        }
        Ok(server)
    }
}

/// The pid of the (only) child of a wrapper process, the server it runs.
fn wrapped_child(wrapper: u32) -> Result<u32, String> {
    let path = format!("/proc/{wrapper}/task/{wrapper}/children");
    let children = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    children
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| format!("the wrapper {wrapper} has no child"))
}

/// A running `auditrail serve`; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    /// The server's own pid (the child's, or the wrapper's child's).
    pid: u32,
    wrapped: bool,
    addr: SocketAddr,
    base: String,
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    stop_within: Duration,
}

impl ServerProcess {
    /// `http://127.0.0.1:PORT` (`https://…` when it serves TLS).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's pid (for `/proc/PID/status`, say).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What it wrote to stdout and stderr so far (the first 16 MiB), as text.
    pub fn output(&self) -> String {
        let bytes = self.output.lock().map(|o| o.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Sends SIGTERM and returns at once: the server stops accepting and drains its requests.
    pub fn terminate(&self) -> Result<(), String> {
        self.signal("TERM")
    }

    /// Sends SIGKILL and returns at once, as a crash would end it.
    pub fn kill(&self) -> Result<(), String> {
        self.signal("KILL")
    }

    fn signal(&self, name: &str) -> Result<(), String> {
        if self.status.is_some() {
            return Err(format!("serve (pid {}) has exited already", self.pid));
        }
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid.to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("kill -{name} {} failed: {status}", self.pid)) }
    }

    /// Waits up to `timeout` for the process to exit; how it exited, or `None` if it still runs.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while self.status.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => self.status = Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => return None,
                Err(_) => return None,
            }
        }
        // The pipes close with the process: what it wrote is complete once the readers end.
        let drained = Instant::now() + Duration::from_secs(5);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < drained {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.status
    }

    /// SIGTERM, then waits for the exit; if it has not exited in time, SIGKILL and an error.
    /// Returns at once with how it exited if it already has.
    pub fn stop(&mut self) -> Result<ExitStatus, String> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Some(status) = self.wait(Duration::ZERO) {
            return Ok(status);
        }
        self.terminate()?;
        if let Some(status) = self.wait(self.stop_within) {
            return Ok(status);
        }
        let _ = self.kill();
        if self.wrapped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait().map(|status| self.status = Some(status));
        Err(format!("serve (pid {}) did not exit within {:?} of SIGTERM: killed", self.pid, self.stop_within))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

enum Stream {
    Out(ChildStdout),
    Err(ChildStderr),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Out(s) => s.read(buf),
            Stream::Err(s) => s.read(buf),
        }
    }
}

/// Reads a pipe to its end into `output` (up to [`MAX_OUTPUT`]); with `listening`, sends the
/// scheme and address of the first line that says where the server listens.
fn read_output(
    mut stream: Stream,
    output: Arc<Mutex<Vec<u8>>>,
    mut listening: Option<mpsc::Sender<(String, SocketAddr)>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut line = Vec::new();
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Ok(mut out) = output.lock() {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
            let Some(tx) = &listening else { continue };
            for &byte in &buf[..n] {
                if byte != b'\n' {
                    line.push(byte);
                    continue;
                }
                if let Some(found) = listening_at(&String::from_utf8_lossy(&line)) {
                    let _ = tx.send(found);
                    listening = None;
                    break;
                }
                line.clear();
            }
        }
    })
}

/// The scheme and address of `serve`'s "listening" log line, in text or JSON form (where the
/// message may come after the fields).
fn listening_at(line: &str) -> Option<(String, SocketAddr)> {
    if !line.contains(LISTENING) {
        return None;
    }
    let addr = field(line, "address")?.parse().ok()?;
    let scheme = field(line, "scheme").unwrap_or("http");
    Some((scheme.to_owned(), addr))
}

/// A field's value: `name=value`, `name="value"` (text logs) or `"name":"value"` (JSON logs).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let plain = format!("{name}=");
    if let Some(at) = text.find(&plain) {
        let value = text[at + plain.len()..].trim_start_matches('"');
        let end = value.find(|c: char| c == '"' || c.is_whitespace()).unwrap_or(value.len());
        return Some(&value[..end]);
    }
    let json = format!("\"{name}\":\"");
    let at = text.find(&json)?;
    let value = &text[at + json.len()..];
    Some(&value[..value.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_in_text_and_json() {
        let text = "2026-01-01T00:00:00.000Z  INFO auditrail::commands::serve: auditrail listening \
                    address=127.0.0.1:41234 scheme=\"https\" data=/tmp/x";
        assert_eq!(listening_at(text), Some(("https".to_owned(), "127.0.0.1:41234".parse().unwrap())));
        let json =
            r#"{"level":"INFO","fields":{"address":"[::1]:8080","scheme":"http","message":"auditrail listening"}}"#;
        assert_eq!(listening_at(json), Some(("http".to_owned(), "[::1]:8080".parse().unwrap())));
        assert_eq!(listening_at("INFO auditrail::commands::serve: metrics listening address=127.0.0.1:9"), None);
    }
}
