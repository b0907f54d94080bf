//! Test support: real processes, never mocks.
//!
//! [`Serve`] starts a real `auditrail serve` (for the HTTP suite's process tests and the
//! benchmark harness) and [`ServerProcess`] stops it; see the `server` module.
//!
//! Real PostgreSQL: `scripts/test.sh` starts one throwaway cluster for the whole run and exports
//! its URL as `AUDITRAIL_TEST_PG_URL`; every test then gets a fresh database of its own on it. A
//! test run without that variable (plain `cargo test`) starts a private cluster per test instead,
//! which is slower but needs nothing but PostgreSQL's binaries (Debian's `postgresql` package). A
//! cluster is `initdb` + `pg_ctl start` in a temporary directory on a free loopback port, stopped
//! on drop. [`TempPostgres::start_standby`] adds a real streaming hot standby of a cluster (for
//! `--read-database-url`); [`execute`] and [`query_text`] run SQL for tests that have no driver of
//! their own.

mod server;

pub use server::{Serve, ServerProcess, auditrail_command};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const URL_ENV: &str = "AUDITRAIL_TEST_PG_URL";

/// A running throwaway cluster; stopped (and its files removed) when dropped.
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

fn find_bin() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    candidates
        .into_iter()
        .rev()
        .find(|dir| dir.join("initdb").exists())
        .ok_or_else(|| "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: install Debian's `postgresql` package (scripts/test.sh does)".to_owned())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl TempPostgres {
    /// Starts a cluster with trust authentication for user `auditrail` on 127.0.0.1.
    pub fn start() -> Result<Self, String> {
        let pg = Self::empty()?;
        pg.run("initdb", &["-D", &pg.data_dir(), "-A", "trust", "-U", "auditrail", "-E", "UTF8", "--no-sync"])?;
        pg.pg_ctl_start()?;
        Ok(pg)
    }

    /// Starts a hot standby of this cluster: `pg_basebackup -R -X stream` into a temporary directory
    /// of its own, then `pg_ctl start` on a free port. It follows this cluster by streaming
    /// replication (no replication slot), answers read-only queries (`hot_standby` is on by
    /// default) and is stopped on drop like any [`TempPostgres`]; [`TempPostgres::stop`] and
    /// [`TempPostgres::restart`] keep it a standby. initdb's `-A trust` already admits the
    /// replication connection from 127.0.0.1.
    pub fn start_standby(&self) -> Result<TempPostgres, String> {
        let standby = Self::empty()?;
        let primary_port = self.port.to_string();
        standby.run(
            "pg_basebackup",
            &[
                "-D",
                &standby.data_dir(),
                "-R",
                "-X",
                "stream",
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "auditrail",
                // An immediate checkpoint: the default spread one can take minutes.
                "--checkpoint=fast",
                "--no-sync",
            ],
        )?;
        standby.pg_ctl_start()?;
        Ok(standby)
    }

    /// A temporary directory owned by the user PostgreSQL will run as, and a free port: no cluster yet.
    fn empty() -> Result<Self, String> {
        let bin = find_bin()?;
        let dir = tempfile::Builder::new().prefix("auditrail-pg-").tempdir().map_err(|e| e.to_string())?;
        // PostgreSQL refuses to run as root; as root, run it as the `postgres` user.
        let as_postgres_user = is_root();
        if as_postgres_user {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
            if !status.map(|s| s.success()).unwrap_or(false) {
                return Err("cannot chown the cluster directory to the postgres user".to_owned());
            }
        }
        let port = free_port()?;
        Ok(Self { dir, bin, port, as_postgres_user })
    }

    /// `pg_ctl start`, waiting until the server accepts connections (for a standby: until it has
    /// reached a consistent state and accepts read-only connections).
    fn pg_ctl_start(&self) -> Result<(), String> {
        // A hot standby needs max_connections at least the primary's: every cluster uses the same.
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data_dir(), "-o", &opts, "-l", &log, "-w", "-t", "60", "start"])
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let output = if self.as_postgres_user {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
        } else {
            Command::new(&program).args(args).output()
        }
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the maintenance database `postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// URL of database `db` on this cluster.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://auditrail@127.0.0.1:{}/{db}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (fast shutdown); restarting is possible with [`TempPostgres::restart`].
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"])
    }

    /// Stops the server the hard way (`-m immediate`: no checkpoint, backends killed, crash
    /// recovery on the next start), as a crash or a pulled plug would.
    pub fn stop_immediate(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"])
    }

    /// Starts the server again after a stop, on the same port (a standby stays one).
    pub fn restart(&self) -> Result<(), String> {
        self.pg_ctl_start()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"]);
    }
}

/// A fresh, empty database for one test. Holds the private cluster, if one had to be started.
pub struct TestDatabase {
    pub url: String,
    _cluster: Option<TempPostgres>,
}

/// Creates a fresh database on the shared cluster (`AUDITRAIL_TEST_PG_URL`) or on a private one.
pub async fn fresh_database() -> Result<TestDatabase, String> {
    let (base, cluster) = match std::env::var(URL_ENV) {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let cluster = tokio::task::spawn_blocking(TempPostgres::start).await.map_err(|e| e.to_string())??;
            (cluster.url(), Some(cluster))
        }
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    execute(&base, &format!("CREATE DATABASE {name}")).await?;
    let url = match base.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => return Err(format!("{URL_ENV} must end with /<database>")),
    };
    Ok(TestDatabase { url, _cluster: cluster })
}

/// Runs one or more SQL statements (no results) on the database at `url`, on a connection of its own.
pub async fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (client, driver) = connect(url).await?;
    let result = client.batch_execute(sql).await.map_err(|e| format!("{sql}: {}", describe(&e)));
    drop(client);
    let _ = driver.await;
    result
}

/// The first column of the first row of `sql` on the database at `url`, as text (`::text` it if
/// need be), on a connection of its own; e.g. `query_text(standby, "SELECT pg_is_in_recovery()::text")`.
pub async fn query_text(url: &str, sql: &str) -> Result<String, String> {
    let (client, driver) = connect(url).await?;
    let result = client.query_one(sql, &[]).await.map_err(|e| format!("{sql}: {}", describe(&e))).and_then(|row| {
        row.try_get::<_, Option<String>>(0).map(|v| v.unwrap_or_default()).map_err(|e| format!("{sql}: {e}"))
    });
    drop(client);
    let _ = driver.await;
    result
}

/// The server's message for a database error, the causes of others (the driver's `Display` says only
/// "db error" or "error connecting to server").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

async fn connect(
    url: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>), String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect {url}: {}", describe(&e)))?;
    Ok((client, tokio::spawn(connection)))
}
