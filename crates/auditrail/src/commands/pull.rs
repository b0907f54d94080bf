//! `auditrail pull`: mirror an org of any Webex-compatible source into the same org of an
//! auditrail server. The work is `auditrail_client::pull`; this is its command line: flags into a
//! [`Pull`], a progress bar per kind, and one summary line per kind on stderr.

use std::time::Instant;

use anyhow::{anyhow, bail};
use auditrail_client::Api;
use auditrail_client::pages::DAY_MS;
use auditrail_client::pull::{self, Pull, State};
use auditrail_core::{Kind, OrgId, Timestamp};

use crate::cli::PullArgs;
use crate::{progress, timearg};

pub async fn run(args: &PullArgs) -> anyhow::Result<()> {
    let dest = super::server_api(&args.server)?;
    let Some(token) = args.source_token.as_deref().filter(|t| !t.trim().is_empty()) else {
        bail!("no source token given: pass --source-token TOKEN or set AUDITRAIL_PULL_SOURCE_TOKEN");
    };
    let source = Api::new(&args.source, "--source", token.trim().to_owned(), args.server.retries, "the source")?;
    let connect_url = pull::connect_url(&source, args.connect_source.as_deref())?;
    let org = OrgId::parse(&args.org, "--org")?;
    let now = Timestamp::now();
    let since = match &args.since {
        Some(raw) => timearg::parse_time(raw, "--since", now)?,
        None => now.saturating_add_millis(-365 * DAY_MS),
    };
    pull::check_destination(&dest, &org).await?;
    let state = State::open(match &args.state {
        Some(path) => path.clone(),
        None => pull::default_path()?,
    })?;
    let mut kinds: Vec<Kind> = args.kinds.iter().map(|k| k.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let pull = Pull {
        source,
        connect_url,
        dest,
        org,
        org_as_given: args.org.trim().to_owned(),
        state,
        since,
        overlap_ms: i64::try_from(args.overlap.saturating_mul(1000)).unwrap_or(i64::MAX),
        until: now,
        max: args.max,
    };
    let mut failures = Vec::new();
    for kind in &kinds {
        let started = Instant::now();
        let bar = progress::bar(None, &format!("pulling {kind}"));
        let pulled = pull.kind(*kind, &|n| bar.inc(n)).await;
        bar.finish_and_clear();
        match pulled {
            Ok(s) if s.skipped => eprintln!("{kind}: skipped, another pull of this org and kind is running"),
            Ok(s) => eprintln!(
                "{kind}: read {} events, {} new, {} already present; mark {} ({:.1} s)",
                s.read,
                s.accepted,
                s.duplicates,
                s.mark.map_or("none".to_owned(), |m| m.to_string()),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                let line = format!("{kind}: {e:#}");
                if kinds.len() > 1 {
                    eprintln!("error: {line}");
                }
                failures.push(line);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if kinds.len() == 1 => Err(anyhow!("{}", failures.remove(0))),
        n => Err(anyhow!("{n} of {} kinds failed (see above); state in {}", kinds.len(), pull.state.path().display())),
    }
}
