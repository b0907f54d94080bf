//! `auditrail org create|list`.

use anyhow::Context;
use auditrail_core::OrgId;
use uuid::Uuid;

use super::open_store;
use crate::cli::OrgCommand;

pub async fn run(cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create { store, name, id } => {
            let org = match id {
                Some(raw) => OrgId::parse(&raw, "--id")?,
                None => OrgId::from_uuid(Uuid::new_v4()),
            };
            let store = open_store(&store).await?;
            let created = store.create_org(&org, &name).await.context("cannot create the organization")?;
            println!("{}", created.id);
            Ok(())
        }
        OrgCommand::List { store, json } => {
            let store = open_store(&store).await?;
            let orgs = store.orgs().await?;
            if json {
                for org in orgs {
                    let line = serde_json::json!({"id": org.id.to_string(), "name": org.name, "created": org.created.to_string()});
                    println!("{line}");
                }
            } else {
                for org in orgs {
                    println!("{}\t{}\t{}", org.id, org.created, org.name);
                }
            }
            Ok(())
        }
    }
}
