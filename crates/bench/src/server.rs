//! Real `auditrail` processes: the CLI for setup and `serve` under measurement.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use auditrail_testkit::{Serve, ServerProcess, auditrail_command};

/// Where the `auditrail` binary is: given, or next to this one (same build profile).
pub fn auditrail_bin(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_owned());
    }
    let me = std::env::current_exe().context("cannot locate the bench binary")?;
    let dir = me.parent().context("the bench binary has no directory")?;
    let candidate = dir.join("auditrail");
    if candidate.exists() {
        return Ok(candidate);
    }
    bail!(
        "no auditrail binary next to {}: build it (cargo build --release -p auditrail) or pass --auditrail-bin",
        me.display()
    )
}

pub struct Cli {
    pub bin: PathBuf,
}

impl Cli {
    pub fn command(&self, args: &[&str]) -> Command {
        auditrail_command(&self.bin, args)
    }

    /// Runs a CLI command; its stdout, trimmed.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command(args).output().with_context(|| format!("cannot run auditrail {args:?}"))?;
        if !out.status.success() {
            bail!("auditrail {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// An org and a token with every scope, in the store named by `store` arguments.
    pub fn org_and_token(&self, store: &[&str]) -> anyhow::Result<(String, String)> {
        let mut args = vec!["org", "create", "--name", "Bench"];
        args.extend_from_slice(store);
        let org = self.run(&args)?;
        let mut args = vec![
            "token",
            "create",
            "--org",
            &org,
            "--scope",
            "auditrail:ingest,audit:events_read,spark-compliance:events_read,auditrail:admin",
        ];
        args.extend_from_slice(store);
        let token = self.run(&args)?;
        Ok((org, token))
    }
}

/// One `serve` process; stopped on drop (SIGTERM, SIGKILL after 30 s).
pub struct Server {
    pub base: String,
    process: ServerProcess,
}

impl Server {
    pub fn start(cli: &Cli, store: &[&str]) -> anyhow::Result<Server> {
        // Default settings but for the rate limit (the load generator is one token): the access
        // log records every read, as it does for users. A large store takes a while to open.
        let process = Serve::new(&cli.bin)
            .args(["--rate-limit", "0"])
            .args(store)
            .ready_within(Duration::from_secs(600))
            .stop_within(Duration::from_secs(30))
            .start()
            .map_err(|e| anyhow::anyhow!("cannot start serve: {e}"))?;
        Ok(Server { base: process.base().to_owned(), process })
    }

    /// Peak resident memory of the process so far, in MiB (VmHWM).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmHWM:")
    }

    /// Current resident memory in MiB (VmRSS).
    pub fn rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmRSS:")
    }

    fn memory_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

/// A throwaway PostgreSQL cluster from Debian's packages (initdb/pg_ctl), as the tests use.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub url: String,
}

impl Postgres {
    pub fn start(dir: &Path) -> anyhow::Result<Postgres> {
        // initdb, the socket directory and runuser all need an absolute path.
        let dir = &std::path::absolute(dir).context("cannot resolve the PostgreSQL directory")?;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is not installed (/usr/lib/postgresql); run scripts/test.sh once or apt-get install postgresql")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .context("no initdb under /usr/lib/postgresql")?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let root = nix_is_root();
        if root {
            Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status()?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let data = dir.join("data");
        let run = |args: Vec<String>| -> anyhow::Result<()> {
            let mut cmd = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]);
                c
            } else {
                Command::new(&args[0])
            };
            let args = if root { args } else { args[1..].to_vec() };
            let out = cmd.args(&args).output()?;
            if !out.status.success() {
                bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        let initdb = bin.join("initdb").display().to_string();
        let pg_ctl = bin.join("pg_ctl").display().to_string();
        let d = data.display().to_string();
        run(vec![initdb, "-D".into(), d.clone(), "-A".into(), "trust".into(), "-U".into(), "auditrail".into()])?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB",
            dir.display()
        );
        let log = dir.join("postgres.log").display().to_string();
        run(vec![pg_ctl, "-D".into(), d, "-l".into(), log, "-w".into(), "-o".into(), opts, "start".into()])?;
        Ok(Postgres { dir: dir.to_owned(), bin, url: format!("postgres://auditrail@127.0.0.1:{port}/postgres") })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let mut cmd = if nix_is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = cmd.arg("-D").arg(&data).args(["-m", "immediate", "-w", "stop"]).output();
    }
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}
