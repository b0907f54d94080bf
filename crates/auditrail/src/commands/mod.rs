//! One module per command family.

mod errors;
mod events;
mod ingest;
mod org;
mod pull;
mod seed;
mod serve;
mod token;

use std::sync::Arc;

use anyhow::Context;
use auditrail_store::sqlite::SqliteStore;

use crate::cli::{Cli, Command, EventsCommand, StoreArgs};
use crate::client::Api;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(store) => {
            let applied = SqliteStore::migrate(&store.data)
                .with_context(|| format!("cannot migrate the store in {}", store.data.display()))?;
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
            let api = Api::from_args(&server)?;
            events::list(&api, &filters, limit, json).await
        }
        Command::Export(args) => {
            let api = Api::from_args(&args.server)?;
            events::export(&api, &args).await
        }
        Command::Ingest(args) => {
            let api = Api::from_args(&args.server)?;
            ingest::run(&api, &args).await
        }
        Command::Pull(args) => pull::run(&args).await,
        Command::Errors(cmd) => errors::run(&cmd),
    }
}

pub fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<SqliteStore>> {
    let store =
        SqliteStore::open(&args.data).with_context(|| format!("cannot open the store in {}", args.data.display()))?;
    Ok(Arc::new(store))
}
