//! `auditrail sink …`: store commands, usable while servers run on the same store (they pick up
//! a change within seconds).

use anyhow::{Context, bail};
use auditrail_core::sink::{
    HostPort, KafkaTarget, KafkaTopic, SinkId, SinkTarget, SyslogTarget, WebhookSecret, WebhookTarget, parse_brokers,
};
use auditrail_core::{Kind, KindSet, OrgId};
use auditrail_store::{NewSink, Sink};
use serde_json::{Value, json};

use super::open_store;
use crate::cli::{OrgListArgs, SinkAddCommand, SinkCommand, SinkCommon};

pub async fn run(cmd: SinkCommand) -> anyhow::Result<()> {
    match cmd {
        SinkCommand::Add(add) => self::add(add).await,
        SinkCommand::List(OrgListArgs { store, org, json }) => {
            let org = OrgId::parse(&org, "--org")?;
            let store = open_store(&store).await?;
            let head = store.log_size(&org).await?;
            let sinks = store.sinks(Some(&org)).await?;
            if json {
                let rows: Vec<Value> = sinks.iter().map(|s| sink_json(s, head)).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_table(&sinks, head);
            }
            Ok(())
        }
        SinkCommand::Pause { store, id } => set_paused(&store, &id, true).await,
        SinkCommand::Resume { store, id } => set_paused(&store, &id, false).await,
        SinkCommand::Remove { store, id } => {
            let id = SinkId::parse(&id)?;
            open_store(&store).await?.remove_sink(&id).await?;
            eprintln!("{id}: removed");
            Ok(())
        }
    }
}

async fn set_paused(store: &crate::cli::StoreArgs, id: &str, paused: bool) -> anyhow::Result<()> {
    let id = SinkId::parse(id)?;
    open_store(store).await?.set_sink_paused(&id, paused).await?;
    eprintln!("{id}: {}", if paused { "paused" } else { "resumed" });
    Ok(())
}

async fn add(cmd: SinkAddCommand) -> anyhow::Result<()> {
    let (common, target) = match cmd {
        SinkAddCommand::Webhook { common, url, secret, batch } => {
            let secret = match secret {
                Some(s) => WebhookSecret::parse(&s)?,
                None => {
                    let generated = WebhookSecret::random();
                    eprintln!("signing secret (give it to the receiver; it is not shown again): {generated}");
                    generated
                }
            };
            (common, SinkTarget::Webhook(WebhookTarget::new(&url, secret, batch)?))
        }
        SinkAddCommand::Syslog { common, address, tls, ca } => {
            let ca_pem = ca
                .map(|path| std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display())))
                .transpose()?;
            if let Some(pem) = &ca_pem
                && !pem.contains("-----BEGIN CERTIFICATE-----")
            {
                bail!("the --ca file holds no PEM certificate");
            }
            let address = HostPort::parse(&address, "--address")?;
            (common, SinkTarget::Syslog(SyslogTarget { address, tls, ca_pem }))
        }
        SinkAddCommand::Kafka { common, brokers, topic } => {
            let brokers = parse_brokers(&brokers, "--brokers")?;
            let topic = KafkaTopic::parse(&topic, "--topic")?;
            (common, SinkTarget::Kafka(KafkaTarget { brokers, topic }))
        }
    };
    let SinkCommon { store, org, kinds, from_seq } = common;
    let org = OrgId::parse(&org, "--org")?;
    let kinds = parse_kinds(&kinds)?;
    if from_seq == 0 {
        bail!("--from-seq starts at 1 (the first event of the log)");
    }
    let store = open_store(&store).await?;
    let sink = store.create_sink(&org, NewSink { kinds, target, position: from_seq - 1 }).await?;
    eprintln!("{}: delivers {} of {org} to {}", sink.id, sink.kinds.names(), sink.target.describe());
    println!("{}", sink.id);
    Ok(())
}

fn parse_kinds(raw: &[String]) -> anyhow::Result<KindSet> {
    let kinds = KindSet::parse_names(raw.iter().map(String::as_str), "--kind")?;
    Ok(if kinds.is_empty() { KindSet::default_delivered() } else { kinds })
}

fn state(sink: &Sink) -> &'static str {
    match (sink.paused, sink.failures) {
        (true, _) => "paused",
        (false, 0) => "active",
        (false, _) => "failing",
    }
}

fn sink_json(sink: &Sink, head: u64) -> Value {
    json!({
        "id": sink.id,
        "orgId": sink.org.to_string(),
        "type": sink.target.type_name(),
        "target": sink.target.describe(),
        "kinds": sink.kinds.iter().map(Kind::as_str).collect::<Vec<_>>(),
        "state": state(sink),
        "position": sink.position,
        "head": head,
        "lag": head.saturating_sub(sink.position),
        "lastSuccess": sink.last_success.map(|t| t.to_string()),
        "lastError": sink.last_error,
        "lastErrorAt": sink.last_error_at.map(|t| t.to_string()),
        "failures": sink.failures,
        "deliveredBy": sink.lease.as_ref().map(|(owner, until)| json!({"replica": owner, "leaseUntil": until.to_string()})),
        "created": sink.created.to_string(),
    })
}

fn print_table(sinks: &[Sink], head: u64) {
    if sinks.is_empty() {
        eprintln!("no sinks");
        return;
    }
    println!(
        "{:<20} {:<8} {:<8} {:>10} {:>8} {:<24} TARGET / LAST ERROR",
        "ID", "TYPE", "STATE", "POSITION", "LAG", "LAST SUCCESS"
    );
    for sink in sinks {
        let success = sink.last_success.map(|t| t.to_string()).unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<20} {:<8} {:<8} {:>10} {:>8} {:<24} {}",
            sink.id.as_str(),
            sink.target.type_name(),
            state(sink),
            sink.position,
            head.saturating_sub(sink.position),
            success,
            sink.target.describe()
        );
        if let Some(error) = &sink.last_error {
            let at = sink.last_error_at.map(|t| t.to_string()).unwrap_or_default();
            println!("{:<20} last error {at}: {error}", "");
        }
    }
}
