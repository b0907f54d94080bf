//! One module per command family.

mod errors;
mod events;
mod ingest;
mod intake;
mod org;
mod pull;
mod seed;
mod serve;
mod sink;
mod token;
mod verify;

use std::sync::Arc;

use anyhow::{Context, bail};
use auditrail_client::Api;
use auditrail_store::Store;
use auditrail_store::postgres::PostgresStore;
use auditrail_store::sqlite::SqliteStore;

use crate::cli::{Cli, Command, EventsCommand, HoldCommand, IntakeCommand, RetentionCommand, ServerArgs, StoreArgs};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Migrate(store) => {
            let applied = match &store.database_url {
                Some(url) => PostgresStore::migrate(url).await,
                None => SqliteStore::migrate(&store.data),
            }
            .with_context(|| format!("cannot migrate the store in {}", store.describe()))?;
            if applied.is_empty() {
                eprintln!("schema is up to date");
            } else {
                eprintln!("applied migrations {applied:?}");
            }
            Ok(())
        }
        Command::Org(cmd) => org::run(cmd).await,
        Command::Token(cmd) => token::run(cmd).await,
        Command::Seed(args) => seed::run(args).await,
        Command::Events(EventsCommand::List { server, filters, limit, json }) => {
            let api = server_api(&server)?;
            events::list(&api, &filters, limit, json).await
        }
        Command::Export(args) => {
            let api = server_api(&args.server)?;
            events::export(&api, &args).await
        }
        Command::Ingest(args) => {
            let api = server_api(&args.server)?;
            ingest::run(&api, &args).await
        }
        Command::Pull(args) => pull::run(&args).await,
        Command::Errors(cmd) => errors::run(&cmd),
        Command::Verify(args) => verify::run(&args).await,
        Command::Retention(RetentionCommand::Set { store, org, days, off }) => {
            let org = auditrail_core::OrgId::parse(&org, "--org")?;
            let days = if off { None } else { days };
            open_store(&store).await?.set_retention(&org, days).await?;
            match days {
                Some(d) => eprintln!("{org}: events are kept {d} days"),
                None => eprintln!("{org}: events are kept forever"),
            }
            Ok(())
        }
        Command::Sink(cmd) => sink::run(cmd).await,
        Command::Intake(IntakeCommand::Status(args)) => intake::status(args).await,
        Command::Hold(cmd) => {
            let (store, org, held) = match cmd {
                HoldCommand::Set { store, org } => (store, org, true),
                HoldCommand::Release { store, org } => (store, org, false),
            };
            let org = auditrail_core::OrgId::parse(&org, "--org")?;
            open_store(&store).await?.set_legal_hold(&org, held).await?;
            eprintln!("{org}: legal hold {}", if held { "set" } else { "released" });
            Ok(())
        }
    }
}

/// The API of `--server`/`--token`, with clear errors when either is missing.
fn server_api(args: &ServerArgs) -> anyhow::Result<Api> {
    let Some(server) = args.server.as_deref().filter(|s| !s.trim().is_empty()) else {
        bail!("no server given: pass --server URL or set AUDITRAIL_SERVER");
    };
    let Some(token) = args.token.as_deref().filter(|s| !s.trim().is_empty()) else {
        bail!("no token given: pass --token TOKEN or set AUDITRAIL_TOKEN");
    };
    Api::new(server, "--server", token.trim().to_owned(), args.retries, "the server")
}

/// The store the arguments name: PostgreSQL with `--database-url`, else SQLite in `--data`.
pub async fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => {
            let store = PostgresStore::connect(url, args.read_database_url.as_deref())
                .await
                .context("cannot open the PostgreSQL store")?;
            match store.durability().await {
                Ok((_, fsync)) if fsync != "on" => tracing::warn!(
                    fsync = %fsync,
                    "PostgreSQL runs with fsync off: acknowledged events can be lost if its machine crashes"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read PostgreSQL's durability settings"),
            }
            Arc::new(store)
        }
        None => Arc::new(
            SqliteStore::open(&args.data)
                .with_context(|| format!("cannot open the store in {}", args.data.display()))?,
        ),
    };
    Ok(store)
}
