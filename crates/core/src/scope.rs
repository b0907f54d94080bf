//! Token scopes. The first two are Webex's own scope strings, so that a token minted here reads
//! like the OAuth scopes real integrations request.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    AuditEventsRead,
    ComplianceEventsRead,
    Ingest,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::AuditEventsRead, Scope::ComplianceEventsRead, Scope::Ingest, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AuditEventsRead => "audit:events_read",
            Scope::ComplianceEventsRead => "spark-compliance:events_read",
            Scope::Ingest => "auditrail:ingest",
            Scope::Admin => "auditrail:admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| {
            let allowed: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown scope '{s}'; allowed: {}", allowed.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_unknown_is_rejected() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("audit:events_write".parse::<Scope>().is_err());
        assert!("".parse::<Scope>().is_err());
    }
}
