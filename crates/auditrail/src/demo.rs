//! `serve --demo`: a demo organization full of realistic synthetic events, fresh tokens, and the
//! commands to try it. The demo org has a fixed id, so restarting on the same data directory reuses
//! it without seeding again. The events come from the same seeding pipeline as `auditrail seed`.

use anyhow::Context;
use auditrail_core::{Kind, OrgId, Scope, Timestamp};
use auditrail_store::{NewToken, Store};
use uuid::Uuid;

use crate::progress;
use crate::seed::{self, SeedPlan};

const DEMO_ORG_UUID: Uuid = Uuid::from_u128(0xde30_0000_0000_4000_8000_0000_0000_0001);
const DEMO_ORG_NAME: &str = "Acme Demo Inc.";
const DAYS: i64 = 90;
/// Per kind: a realistic mix, mostly admin activity (the same 6:3:1:2 split `auditrail seed` uses).
const COUNTS: [(Kind, usize); 4] =
    [(Kind::Admin, 30_000), (Kind::Compliance, 15_000), (Kind::Connect, 5_000), (Kind::Security, 10_000)];

pub struct Demo {
    org: OrgId,
    reader: String,
    ingester: String,
    seeded: Option<usize>,
}

pub async fn prepare(store: &dyn Store) -> anyhow::Result<Demo> {
    let org = OrgId::from_uuid(DEMO_ORG_UUID);
    let seeded = if store.org(&org).await?.is_none() {
        store.create_org(&org, DEMO_ORG_NAME).await.context("cannot create the demo organization")?;
        Some(seed(store, &org).await?)
    } else {
        tracing::info!(org = %org, "reusing the demo organization already in this data directory");
        None
    };
    let reader = NewToken {
        scopes: vec![Scope::AuditEventsRead, Scope::ComplianceEventsRead],
        name: Some("Demo Compliance Officer".to_owned()),
        email: Some("officer@acme-demo.example".to_owned()),
        expires: None,
    };
    let ingester = NewToken {
        scopes: vec![Scope::Ingest],
        name: Some("Demo Ingest Pipeline".to_owned()),
        email: None,
        expires: None,
    };
    let (_, reader) = store.create_token(&org, reader).await?;
    let (_, ingester) = store.create_token(&org, ingester).await?;
    Ok(Demo { org, reader: reader.expose().to_owned(), ingester: ingester.expose().to_owned(), seeded })
}

async fn seed(store: &dyn Store, org: &OrgId) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let plan = SeedPlan {
        seed: 42,
        org_name: DEMO_ORG_NAME.to_owned(),
        start_ms: now.millis() - DAYS * 86_400_000,
        end_ms: now.millis(),
        counts: COUNTS.to_vec(),
    };
    let total = COUNTS.iter().map(|(_, n)| *n as u64).sum();
    let bar = progress::bar(Some(total), "seeding the demo organization");
    let report = seed::seed(store, org, &plan, Some(&bar)).await?;
    bar.finish_and_clear();
    tracing::info!(events = report.accepted, days = DAYS, "seeded demo events");
    Ok(report.accepted)
}

impl Demo {
    pub fn banner(&self, base: &str) -> String {
        let org = &self.org;
        let reader = &self.reader;
        let ingester = &self.ingester;
        let seeded = match self.seeded {
            Some(n) => format!("seeded {n} synthetic events over the last {DAYS} days"),
            None => "reused the existing demo organization and its events".to_owned(),
        };
        let now = Timestamp::now();
        let from = now.saturating_add_millis(-7 * 86_400_000);
        format!(
            r#"
auditrail demo is running at {base}  ({seeded})

  web viewer     {base}/ui  (sign in with the read token)
  organization   {org}  ({DEMO_ORG_NAME})
  read token     {reader}
                 scopes: audit:events_read spark-compliance:events_read
  ingest token   {ingester}
                 scopes: auditrail:ingest

Admin audit events of the last week (oldest first, 5 per page; follow the Link header):
  curl -si -H "Authorization: Bearer {reader}" \
    "{base}/v1/adminAudit/events?orgId={org}&from={from}&to={now}&max=5"

Compliance events (call records):
  curl -s -H "Authorization: Bearer {reader}" "{base}/v1/events?resource=call_records&max=3"

Security audit events (sign-ins and sign-outs) of the last week:
  curl -s -H "Authorization: Bearer {reader}" \
    "{base}/v1/admin/securityAudit/events?orgId={org}&startTime={from}&endTime={now}&max=5"

Who read this trail (the access log; reading it is not recorded):
  curl -s -H "Authorization: Bearer {reader}" "{base}/auditrail/v1/access?max=5"

Webex Connect audit logs of today:
  curl -s -X POST -H "Authorization: Bearer {reader}" -H "Content-Type: application/json" \
    -d '{{"range": "1", "max": 3}}' {base}/connectapi/v1/auditManager/audit-logs/export

Ingest an event:
  curl -s -H "Authorization: Bearer {ingester}" -H "Content-Type: application/json" \
    -d '[{{"actorId": "demo-actor", "data": {{"eventCategory": "LOGINS", "actionText": "Demo login"}}}}]' \
    {base}/auditrail/v1/ingest/admin

The auditrail CLI (tables on a terminal, NDJSON when piped):
  export AUDITRAIL_SERVER={base} AUDITRAIL_TOKEN={reader}
  auditrail events list --kind admin --from 7d
  auditrail events list --kind connect --range 6 --limit 20
  auditrail events list --kind security --from 1d --category LOGINS
  auditrail events list --kind access
  auditrail export --kind compliance --format csv --out compliance.csv

Python (pip install webexpythonsdk==2.0.6):
  python3 -c 'from webexpythonsdk import WebexAPI
api = WebexAPI(access_token="{reader}", base_url="{base}/v1/")
me = api.people.me()
for e in api.admin_audit_events.list(orgId=me.orgId, _from="{from}", to="{now}", max=100):
    print(e.created, e.data.eventCategory, e.data.actionText)'
"#
        )
    }
}
