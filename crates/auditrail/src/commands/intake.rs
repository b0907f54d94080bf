//! `auditrail intake status`: what the Kafka intake recorded in the store, per partition; usable
//! while servers run (each records its status after every batch it stores).

use auditrail_core::OrgId;
use auditrail_store::IntakePartition;
use serde_json::{Value, json};

use super::open_store;
use crate::cli::OrgListArgs;

pub async fn status(OrgListArgs { store, org, json }: OrgListArgs) -> anyhow::Result<()> {
    let org = OrgId::parse(&org, "--org")?;
    let partitions = open_store(&store).await?.intake_status(Some(&org)).await?;
    if json {
        let rows: Vec<Value> = partitions.iter().map(partition_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&partitions);
    }
    Ok(())
}

fn partition_json(p: &IntakePartition) -> Value {
    json!({
        "orgId": p.org.to_string(),
        "topic": p.topic.as_str(),
        "partition": p.partition,
        "offset": p.next,
        "end": p.end,
        "lag": p.lag(),
        "records": p.records,
        "malformed": p.malformed,
        "lastMalformed": p.last_malformed,
        "lastMalformedAt": p.last_malformed_at.map(|t| t.to_string()),
        "updated": p.updated.to_string(),
        "replica": p.replica,
    })
}

fn print_table(partitions: &[IntakePartition]) {
    if partitions.is_empty() {
        eprintln!("no Kafka intake has stored anything for this organization");
        return;
    }
    println!(
        "{:<24} {:>9} {:>12} {:>8} {:>10} {:>9} {:<24} REPLICA",
        "TOPIC", "PARTITION", "OFFSET", "LAG", "RECORDS", "MALFORMED", "UPDATED"
    );
    for p in partitions {
        let lag = p.lag().map_or_else(|| "-".to_owned(), |lag| lag.to_string());
        println!(
            "{:<24} {:>9} {:>12} {:>8} {:>10} {:>9} {:<24} {}",
            p.topic.as_str(),
            p.partition,
            p.next,
            lag,
            p.records,
            p.malformed,
            p.updated.to_string(),
            p.replica
        );
        if let (Some(reason), Some(at)) = (&p.last_malformed, p.last_malformed_at) {
            println!("{:<24} last malformed {at}: {reason}", "");
        }
    }
}
