//! One module per command family.

mod org;
mod serve;
mod token;

use std::sync::Arc;

use anyhow::Context;
use auditrail_store::sqlite::SqliteStore;

use crate::cli::{Cli, Command, StoreArgs};

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
    }
}

pub fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<SqliteStore>> {
    let store =
        SqliteStore::open(&args.data).with_context(|| format!("cannot open the store in {}", args.data.display()))?;
    Ok(Arc::new(store))
}
