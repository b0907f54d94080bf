//! Row shapes both SQL backends read into, and their conversion to domain values. Stored values
//! were parsed before they were written, so a failure here means corruption, not bad input.

use auditrail_core::{OrgId, Scope, Timestamp};

use crate::{Org, Principal, StoreError, TokenInfo};

pub(crate) fn parse_org_row(id: String, name: String, created: i64) -> Result<Org, StoreError> {
    Ok(Org {
        id: OrgId::parse(&id, "org_id").map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name,
        created: stored_time(created)?,
    })
}

pub(crate) fn stored_time(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

fn parse_scopes(raw: &str) -> Result<Vec<Scope>, StoreError> {
    raw.split_whitespace().map(|s| s.parse::<Scope>().map_err(StoreError::Corrupt)).collect()
}

pub(crate) struct TokenRow {
    pub(crate) token_id: String,
    pub(crate) org_id: String,
    pub(crate) scopes: String,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) created: i64,
    pub(crate) last_used: Option<i64>,
    pub(crate) expires: Option<i64>,
    pub(crate) revoked: Option<i64>,
    pub(crate) org_name: String,
    pub(crate) org_created: i64,
}

impl TokenRow {
    pub(crate) fn into_principal(self) -> Result<Principal, StoreError> {
        let org = parse_org_row(self.org_id, self.org_name, self.org_created)?;
        let token = TokenInfo {
            token_id: self.token_id,
            org: org.id.clone(),
            scopes: parse_scopes(&self.scopes)?,
            name: self.name,
            email: self.email,
            created: stored_time(self.created)?,
            last_used: self.last_used.map(stored_time).transpose()?,
            expires: self.expires.map(stored_time).transpose()?,
            revoked: self.revoked.is_some(),
        };
        Ok(Principal { token, org })
    }
}
