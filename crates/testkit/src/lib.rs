//! Real PostgreSQL for tests, never a mock.
//!
//! `scripts/test.sh` starts one throwaway cluster for the whole run and exports its URL as
//! `AUDITRAIL_TEST_PG_URL`; every test then gets a fresh database of its own on it. A test run
//! without that variable (plain `cargo test`) starts a private cluster per test instead, which is
//! slower but needs nothing but PostgreSQL's binaries (Debian's `postgresql` package). A cluster is
//! `initdb` + `pg_ctl start` in a temporary directory on a free loopback port, stopped on drop.

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
        let pg = Self { dir, bin, port, as_postgres_user };
        let data = pg.data_dir();
        pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "auditrail", "-E", "UTF8", "--no-sync"])?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB",
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("postgres.log").display().to_string();
        pg.run("pg_ctl", &["-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "60", "start"])?;
        Ok(pg)
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
        format!("postgres://auditrail@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (fast shutdown); restarting is possible with [`TempPostgres::restart`].
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"])
    }

    pub fn restart(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data_dir(), "-o", &opts, "-l", &log, "-w", "-t", "60", "start"])
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
    let (client, connection) =
        tokio_postgres::connect(&base, tokio_postgres::NoTls).await.map_err(|e| format!("connect {base}: {e}"))?;
    let driver = tokio::spawn(connection);
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.map_err(|e| e.to_string())?;
    drop(client);
    let _ = driver.await;
    let url = match base.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => return Err(format!("{URL_ENV} must end with /<database>")),
    };
    Ok(TestDatabase { url, _cluster: cluster })
}
